import { Simulation, loadScenario, loadSanctionsSnapshot, parseScenario } from '/work/main/test/simulator/src/index.js';
const base = loadScenario('recon');
const sc = parseScenario({ ...base, $schema: undefined, statements: { ...base.statements, transient_failure_rate: 0.15 } });
const sim = new Simulation({ scenario: sc, sanctions: loadSanctionsSnapshot(), start_ms: Date.now() - 3600_000 });
sim.generateAll();
const counts: Record<number, number> = {};
for (let i = 0; i < 200; i++) { const r = sim.statements('generic', {}); counts[r.status] = (counts[r.status] ?? 0) + 1; }
console.log(counts, (sim as any).statement_knobs);
