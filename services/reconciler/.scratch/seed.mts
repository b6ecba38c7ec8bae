import { Simulation, loadSanctionsSnapshot, parseScenario } from '/work/main/test/simulator/src/index.js';
const sanctions = loadSanctionsSnapshot();
for (let seed = 1; seed < 60; seed++) {
  const sc = parseScenario({ name: 'x', seed, world: { customers: 8, wallets_per_customer: [1, 2], providers: { generic: 1 } }, traffic: { transactions: 30, transactions_per_s: 20 }, discrepancies: { drop_all_rate: 0.05 } });
  const sim = new Simulation({ scenario: sc, sanctions, start_ms: 1_790_000_000_000 });
  sim.generateAll();
  const drops = sim.truth.transactions().filter((r) => r.tx.discrepancy === 'drop_all');
  if (drops.length === 1) console.log(seed, drops[0]!.tx.kind, sim.truth.transactions().length);
}
