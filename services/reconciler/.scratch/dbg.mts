import { Simulation, loadScenario, loadSanctionsSnapshot, parseScenario, startSimulatorServer } from '/work/main/test/simulator/src/index.js';
import { fetchStatementPages } from '/work/main/services/reconciler/src/adapters/statements-client.js';
const base = loadScenario('recon');
const sc = parseScenario({ ...base, $schema: undefined, statements: { ...base.statements, page_size_cap: 13, empty_page_rate: 0.25, repeat_last_item_rate: 0.3, transient_failure_rate: 0.15 } });
const sim = new Simulation({ scenario: sc, sanctions: loadSanctionsSnapshot(), start_ms: Date.now() - 3600_000 });
sim.generateAll();
const server = await startSimulatorServer(sim, '127.0.0.1', 0);
let pages = 0, items = 0, empty = 0, retries = 0;
for await (const p of fetchStatementPages({ base_url: server.url, updated_since: new Date(Date.now() - 3*3600_000).toISOString(), page_limit: 500, request_timeout_ms: 5000, sleep: async () => {}, logger: { warn: (o: unknown, m: string) => console.log('WARN', JSON.stringify(o), m) } as any })) {
  pages++; items += p.records.length; if (!p.records.length) empty++; retries += p.retries;
}
console.log({ pages, items, empty, retries, truth: sim.truth.statementRecords('generic').length });
await server.close();
