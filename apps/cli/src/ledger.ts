import { baseConfigSchema, loadConfig } from '@tidemark/common';

/** `tidemark ledger check`: exit 0 invariants hold, 1 violated, 2 could not run. */
export async function ledgerCheckCommand(json: boolean): Promise<number> {
  const config = loadConfig(baseConfigSchema);
  let pool: { end(): Promise<void> } | null = null;
  try {
    const { ledgerCheck, createLedgerPool } = await import('@tidemark/ledger-projector');
    const ledgerPool = createLedgerPool({ database_url: config.TIDEMARK_DATABASE_URL } as Parameters<typeof createLedgerPool>[0]);
    pool = ledgerPool;
    const report = await ledgerCheck(ledgerPool);
    if (json) console.log(JSON.stringify(report, null, 2));
    else if (report.ok) {
      console.log('ledger invariants hold: postings balance per asset, balances equal postings, no negative pending/held');
      for (const w of report.warnings ?? []) console.log(`  warning ${w.kind}: ${w.detail}`);
    } else {
      console.log(`ledger invariants VIOLATED (${report.violations.length}):`);
      for (const v of report.violations.slice(0, 100)) console.log(`  ${v.kind}: ${v.detail}`);
    }
    return report.ok ? 0 : 1;
  } catch (err) {
    console.error(`ledger check could not run: ${(err as Error).message}`);
    return 2;
  } finally {
    await pool?.end().catch(() => undefined);
  }
}
