/**
 * Integration-test support: every balance version the projection committed to Postgres
 * (one per applied event, remembered in ledger.processed_events with the event) against the
 * committed (read_committed) ledger.balances.v1 records in Kafka. Exactly-once publication
 * means each committed version is in the topic, and every copy of a version (a redelivered
 * event re-emits its stored result) is identical to what Postgres holds.
 */
import type { Pool } from 'pg';
import { type AvroCodec, type BalanceChanged, topicName } from '@tidemark/common';
import type { KafkaTransport } from '@tidemark/stream';
import { LEDGER_BALANCES_TOPIC } from '../topics.js';

/** `wallet|asset|version` → the balance Postgres committed at that version. */
export type BalanceVersions = Map<string, Pick<BalanceChanged, 'pending' | 'available' | 'held'>>;

const versionKey = (wallet_id: string, asset: string, version: number | string) => `${wallet_id}|${asset}|${version}`;

/** Every balance version committed by the projection, read from ledger.processed_events. */
export async function committedBalanceVersions(pool: Pool): Promise<BalanceVersions> {
  const res = await pool.query<{ wallet_id: string; asset: string; version: string; pending: string; available: string; held: string }>(
    `SELECT wallet_id, asset, balance_version::text AS version,
            balance_pending AS pending, balance_available AS available, balance_held AS held
       FROM ledger.processed_events WHERE balance_version IS NOT NULL`,
  );
  return new Map(
    res.rows.map((r) => [versionKey(r.wallet_id, r.asset, r.version), { pending: r.pending, available: r.available, held: r.held }]),
  );
}

export interface BalanceRecordsCheck {
  /** Committed versions with no committed record in the topic. */
  missing: string[];
  /** Records whose content differs from what Postgres committed at that version (or from another copy). */
  conflicting: string[];
  /** Records in the topic of a version Postgres never committed. */
  unknown: string[];
  /** Committed records read. */
  records: number;
  /** Whether the read reached the topic's end (an open transaction holds read_committed readers back). */
  complete: boolean;
}

/** Reads the committed ledger.balances.v1 records once and compares them with `expected`. */
export async function checkBalanceRecords(
  transport: KafkaTransport,
  codec: AvroCodec,
  expected: BalanceVersions,
  timeout_ms: number,
): Promise<BalanceRecordsCheck> {
  const { records, complete } = await transport.readTopic(topicName(LEDGER_BALANCES_TOPIC, codec.prefix), {
    records_max: 1_000_000,
    timeout_ms,
  });
  const seen = new Set<string>();
  const conflicting = new Set<string>();
  const unknown = new Set<string>();
  for (const r of records) {
    const v = await codec.decode<BalanceChanged>(r.value!);
    const key = versionKey(v.wallet_id, v.asset, v.version);
    seen.add(key);
    const want = expected.get(key);
    if (!want) unknown.add(key);
    else if (want.pending !== v.pending || want.available !== v.available || want.held !== v.held) conflicting.add(key);
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  return { missing, conflicting: [...conflicting], unknown: [...unknown], records: records.length, complete };
}

/** Re-reads the topic until every committed version is in it, or `timeout_ms` passed; returns the last check. */
export async function waitForBalanceRecords(
  transport: KafkaTransport,
  codec: AvroCodec,
  expected: BalanceVersions,
  timeout_ms: number,
): Promise<BalanceRecordsCheck & { waited_ms: number }> {
  const started = Date.now();
  for (;;) {
    const left = started + timeout_ms - Date.now();
    const check = await checkBalanceRecords(transport, codec, expected, Math.max(1_000, Math.min(left, 20_000)));
    if ((check.missing.length === 0 && check.complete) || Date.now() - started >= timeout_ms)
      return { ...check, waited_ms: Date.now() - started };
    await new Promise((r) => setTimeout(r, 500));
  }
}
