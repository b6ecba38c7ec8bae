import pg from 'pg';
import { baseConfigSchema, loadConfig } from '@tidemark/common';

interface Violation { kind: string; message: string; [k: string]: unknown }

/** `tidemark ledger check`: exit 0 invariants hold, 1 violated, 2 could not run. */
export async function ledgerCheckCommand(json: boolean): Promise<number> {
  const config = loadConfig(baseConfigSchema);
  const pool = new pg.Pool({ connectionString: config.TIDEMARK_DATABASE_URL, max: 2 });
  try {
    const { ledgerCheck } = (await import('@tidemark/ledger-projector')) as {
      ledgerCheck: (pool: pg.Pool) => Promise<{ ok: boolean; violations: Violation[]; [k: string]: unknown }>;
    };
    const report = await ledgerCheck(pool);
    if (json) console.log(JSON.stringify(report, null, 2));
    else if (report.ok) console.log('ledger invariants hold: postings balance per asset, balances equal postings, no negative pending/held');
    else {
      console.log(`ledger invariants VIOLATED (${report.violations.length}):`);
      for (const v of report.violations.slice(0, 100)) console.log(`  ${v.kind}: ${v.message}`);
    }
    return report.ok ? 0 : 1;
  } catch (err) {
    console.error(`ledger check could not run: ${(err as Error).message}`);
    return 2;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
