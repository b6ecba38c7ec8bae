import { readFileSync } from 'node:fs';
import pino from 'pino';
import { createLedgerHandler } from '/work/main/services/ledger-projector/src/handler.js';
import { createTestDatabase } from '/work/main/services/ledger-projector/src/testing/pg.js';
import { inputRecord, screenedEvent } from '/work/main/services/ledger-projector/src/testing/events.js';
const db = await createTestDatabase({ pool_max: 1 });
const pid = (await db.pool.query('select pg_backend_pid() as p')).rows[0].p;
const cpuOf = () => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const events = [];
for (let tx = 0; events.length < 40000; tx++) {
  const w = `wal_${tx % 5000}`;
  const types = tx % 4 === 2 ? ['withdrawal.requested', 'withdrawal.broadcast', 'withdrawal.confirmed'] : ['deposit.detected', 'deposit.confirmed'];
  for (const [i, t] of types.entries())
    events.push(screenedEvent({ event_id: `e${tx}_${i}`, event_type: t, transaction_id: `tx${tx}`, wallet_id: w, partition_key: w, amount: `${tx}.123456789012345678` }, tx % 4 === 1 ? 'REVIEW' : 'ALLOW'));
}
const recs = events.map(inputRecord);
const h = createLedgerHandler({ pool: db.pool, logger: pino({ level: 'silent' }) });
const pg0 = cpuOf(); const n0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < recs.length; i += 1000) await h.handleBatch(recs.slice(i, i + 1000));
const wall = performance.now() - t0; const n = process.cpuUsage(n0); const pgms = cpuOf() - pg0;
console.log(`events ${recs.length} wall ${wall.toFixed(0)}ms pg_cpu ${pgms}ms (${(pgms*1000/recs.length).toFixed(1)}us/ev) node_cpu ${((n.user+n.system)/1000).toFixed(0)}ms (${((n.user+n.system)/recs.length).toFixed(1)}us/ev)`);
await db.drop();
