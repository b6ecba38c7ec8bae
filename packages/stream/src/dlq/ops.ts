/**
 * Dead-letter operations behind `npx tidemark dlq list|show|replay|purge`.
 *
 * - list/show read `<service>.dlq` (read_committed) and join the operator state kept
 *   in Postgres (`stream_dlq_state`: replaying/replayed/purged).
 * - replay sends the original value bytes and headers back to the service's main
 *   input topic (so it takes the service's normal path, ordering and dedupe included)
 *   with header `tidemark-replay-of: <dlq topic>/<partition>/<offset>`, together with
 *   an audit record in one Kafka transaction. Idempotent: a dead letter is claimed in
 *   Postgres ('replaying') before the send and marked 'replayed' after it; a second
 *   replay of it is skipped. A claim left 'replaying' by a crash is reported as in
 *   doubt and only re-sent with `force` (never silently twice).
 * - purge marks dead letters 'purged' (audited) and, with `truncate`, deletes the
 *   resolved prefix of each DLQ partition from Kafka (delete-records).
 */
import type pg from 'pg';
import {
  AvroCodec,
  buildAudit,
  dlqOpsTransactionalId,
  loadCatalog,
  topicName,
  type BaseConfig,
  type DeadLetter,
  type Logger,
  createPool,
} from '@tidemark/common';
import { dlqTopicBase, H_REPLAY_OF, H_REPLAY_SOURCE } from '../core/ladder.js';
import { createTransport } from '../kafka/select.js';
import { auditOutgoing } from '../runtime/outgoing.js';
import type { FetchedRecord, KafkaTransport } from '../kafka/transport.js';
import { migrateStreamTables } from '../parking/store.js';

export interface DlqContext {
  transport: KafkaTransport;
  pool: pg.Pool;
  codec: AvroCodec;
  /** Topic namespace prefix (TIDEMARK_TOPIC_PREFIX). */
  prefix: string;
  logger?: Logger;
}

export type DeadLetterState = 'open' | 'replaying' | 'replayed' | 'purged';

export interface DeadLetterRef {
  service: string;
  partition: number;
  /** DLQ offset, decimal string. */
  offset: string;
}

export interface DeadLetterEntry {
  /** `<service>:<dlq partition>:<dlq offset>`: what `show`, `replay` and `purge` accept. */
  id: string;
  ref: DeadLetterRef;
  dlq_topic: string;
  state: DeadLetterState;
  dead_lettered_at: string;
  service: string;
  original_topic: string;
  original_partition: number;
  original_offset: string;
  key: string | null;
  headers: Record<string, string>;
  error_class: DeadLetter['error_class'];
  error_message: string;
  error_stack: string | null;
  attempts: number;
  first_failure_at: string;
  last_failure_at: string;
  traceparent: string | null;
  payload_bytes: number;
  payload_base64: string;
  /** The payload decoded through the registry, when it decodes. */
  value: unknown;
}

export interface DlqFilter {
  /** Default: every consumer service of schemas/topics.json. */
  service?: string;
  key?: string;
  /** Case-insensitive substring of the error class or message. */
  error_contains?: string;
  /** Last failure at or after (ms since epoch). */
  since_ms?: number;
  /** Last failure before (ms since epoch). */
  until_ms?: number;
  /** Include replayed and purged dead letters (default: open and in-doubt only). */
  include_resolved?: boolean;
  limit?: number;
}

export const DLQ_LIST_LIMIT_DEFAULT = 100;
export const DLQ_SCAN_RECORDS_MAX = 100_000;
const DLQ_READ_TIMEOUT_MS = 30_000;

/** Builds a context from the base configuration (the CLI's entry point). Call `close` when done. */
export async function openDlqContext(
  config: Pick<BaseConfig, 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_REGISTRY_URL' | 'TIDEMARK_DATABASE_URL' | 'TIDEMARK_TOPIC_PREFIX'> &
    Partial<Pick<BaseConfig, 'TIDEMARK_KAFKA_CLIENT'>>,
  logger?: Logger,
): Promise<DlqContext & { close(): Promise<void> }> {
  const transport = createTransport(config, 'tidemark-dlq-ops', logger);
  const pool = createPool({ database_url: config.TIDEMARK_DATABASE_URL, max: 2, application_name: 'tidemark-dlq-ops' });
  // A provisioned database has the state table already (the console's role may use it, not create tables);
  // elsewhere (a database without the platform's roles) the stream runtime's migration creates it.
  const { rows } = await pool.query<{ found: string | null }>(`SELECT to_regclass('stream_dlq_state')::text AS found`);
  if (rows[0]?.found == null) await migrateStreamTables(pool);
  return {
    transport,
    pool,
    codec: new AvroCodec(config.TIDEMARK_REGISTRY_URL, config.TIDEMARK_TOPIC_PREFIX),
    prefix: config.TIDEMARK_TOPIC_PREFIX,
    logger,
    async close() {
      await transport.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

/** Parses `<service>:<partition>:<offset>` (also accepts `/` as separator). */
export function parseDeadLetterId(id: string): DeadLetterRef {
  const m = /^(.+)[:/](\d+)[:/](\d+)$/.exec(id.trim());
  if (!m) throw new Error(`"${id}" is not a dead-letter id; expected <service>:<partition>:<offset> (see dlq list)`);
  return { service: m[1]!, partition: Number.parseInt(m[2]!, 10), offset: m[3]! };
}

export function deadLetterId(ref: DeadLetterRef): string {
  return `${ref.service}:${ref.partition}:${ref.offset}`;
}

/** Dead letters matching `filter`, oldest first per partition. */
export async function listDeadLetters(ctx: DlqContext, filter: DlqFilter = {}): Promise<{ entries: DeadLetterEntry[]; complete: boolean }> {
  const services = filter.service ? [filter.service] : loadCatalog().consumers.map((c) => c.service);
  const limit = filter.limit ?? DLQ_LIST_LIMIT_DEFAULT;
  const entries: DeadLetterEntry[] = [];
  let complete = true;
  for (const service of services) {
    const { entries: all, complete: c } = await readService(ctx, service);
    complete &&= c;
    for (const e of all) {
      if (!matches(e, filter)) continue;
      entries.push(e);
      if (entries.length >= limit) return { entries, complete: false };
    }
  }
  return { entries, complete };
}

export async function showDeadLetter(ctx: DlqContext, ref: DeadLetterRef): Promise<DeadLetterEntry | null> {
  const { entries } = await readService(ctx, ref.service);
  return entries.find((e) => e.ref.partition === ref.partition && e.ref.offset === ref.offset) ?? null;
}

export interface ReplayReport {
  replayed: Array<{ id: string; to_topic: string }>;
  skipped: Array<{ id: string; reason: string }>;
}

/** Replays the given dead letters (or those matching `filter`) through their service's main input. */
export async function replayDeadLetters(
  ctx: DlqContext,
  opts: { refs?: DeadLetterRef[]; filter?: DlqFilter; actor: string; force?: boolean; dry_run?: boolean },
): Promise<ReplayReport> {
  const selected = await select(ctx, opts.refs, opts.filter);
  const report: ReplayReport = { replayed: [], skipped: selected.missing.map((id) => ({ id, reason: 'not found' })) };
  for (const e of selected.entries) {
    if (opts.dry_run) {
      if (e.state === 'open' || (e.state === 'replaying' && opts.force)) report.replayed.push({ id: e.id, to_topic: e.original_topic });
      else report.skipped.push({ id: e.id, reason: skipReason(e.state) });
      continue;
    }
    const claim = await claimState(ctx, e, 'replaying', opts.actor, opts.force === true);
    if (!claim.ok) {
      report.skipped.push({ id: e.id, reason: skipReason(claim.state) });
      continue;
    }
    const producer = await ctx.transport.transactionalProducer(dlqOpsTransactionalId(e.service, ctx.prefix));
    try {
      const txn = await producer.begin();
      try {
        const headers = {
          ...e.headers,
          [H_REPLAY_OF]: `${e.dlq_topic}/${e.ref.partition}/${e.ref.offset}`,
          [H_REPLAY_SOURCE]: `${e.original_topic}/${e.original_partition}/${e.original_offset}`,
        };
        await txn.send([
          { topic: e.original_topic, key: e.key, value: Buffer.from(e.payload_base64, 'base64'), headers },
          await auditRecord(ctx, e, 'replayed', opts.actor, { to_topic: e.original_topic }),
        ]);
        await txn.commit();
      } catch (err) {
        await txn.abort().catch(() => undefined);
        throw err;
      }
    } finally {
      await producer.close().catch(() => undefined);
    }
    await setState(ctx, e, 'replayed', opts.actor);
    report.replayed.push({ id: e.id, to_topic: e.original_topic });
    ctx.logger?.info({ id: e.id, to_topic: e.original_topic, actor: opts.actor }, 'dead letter replayed');
  }
  return report;
}

export interface PurgeReport {
  purged: string[];
  skipped: Array<{ id: string; reason: string }>;
  /** Partitions whose resolved prefix was deleted from Kafka: records before `before_offset` are gone. */
  truncated: Array<{ dlq_topic: string; partition: number; before_offset: string }>;
}

/** Marks dead letters purged (audited); with `truncate`, deletes fully resolved prefixes from Kafka. */
export async function purgeDeadLetters(
  ctx: DlqContext,
  opts: { refs?: DeadLetterRef[]; filter?: DlqFilter; actor: string; dry_run?: boolean; truncate?: boolean },
): Promise<PurgeReport> {
  const selected = await select(ctx, opts.refs, opts.filter);
  const report: PurgeReport = { purged: [], skipped: selected.missing.map((id) => ({ id, reason: 'not found' })), truncated: [] };
  const producerByService = new Map<string, Awaited<ReturnType<KafkaTransport['transactionalProducer']>>>();
  try {
    for (const e of selected.entries) {
      if (e.state !== 'open') {
        report.skipped.push({ id: e.id, reason: skipReason(e.state) });
        continue;
      }
      if (opts.dry_run) {
        report.purged.push(e.id);
        continue;
      }
      const claim = await claimState(ctx, e, 'purged', opts.actor, false);
      if (!claim.ok) {
        report.skipped.push({ id: e.id, reason: skipReason(claim.state) });
        continue;
      }
      let producer = producerByService.get(e.service);
      if (!producer) {
        producer = await ctx.transport.transactionalProducer(dlqOpsTransactionalId(e.service, ctx.prefix));
        producerByService.set(e.service, producer);
      }
      const txn = await producer.begin();
      await txn.send([await auditRecord(ctx, e, 'purged', opts.actor, {})]);
      await txn.commit();
      report.purged.push(e.id);
    }
  } finally {
    for (const p of producerByService.values()) await p.close().catch(() => undefined);
  }
  if (opts.truncate && !opts.dry_run) {
    const services = [...new Set(selected.entries.map((e) => e.service))];
    for (const service of services) report.truncated.push(...(await truncateResolved(ctx, service)));
  }
  return report;
}

// ---------------------------------------------------------------------------

async function readService(ctx: DlqContext, service: string): Promise<{ entries: DeadLetterEntry[]; complete: boolean }> {
  const dlq_topic = topicName(dlqTopicBase(service), ctx.prefix);
  if (!(await ctx.transport.topicExists(dlq_topic))) return { entries: [], complete: true };
  const { records, complete } = await ctx.transport.readTopic(dlq_topic, {
    records_max: DLQ_SCAN_RECORDS_MAX,
    timeout_ms: DLQ_READ_TIMEOUT_MS,
  });
  const states = await loadStates(ctx, dlq_topic);
  const entries: DeadLetterEntry[] = [];
  for (const r of records) entries.push(await toEntry(ctx, service, dlq_topic, r, states.get(`${r.partition}/${r.offset}`) ?? 'open'));
  return { entries, complete };
}

async function toEntry(
  ctx: DlqContext,
  service: string,
  dlq_topic: string,
  r: FetchedRecord,
  state: DeadLetterState,
): Promise<DeadLetterEntry> {
  if (!r.value) throw new Error(`dead letter ${dlq_topic}/${r.partition}/${r.offset} has no value`);
  const dl = await ctx.codec.decode<DeadLetter>(r.value);
  let value: unknown = null;
  try {
    value = await ctx.codec.decode<unknown>(dl.payload);
  } catch {
    value = null; // POISON payloads do not decode; the bytes are in payload_base64.
  }
  const ref = { service, partition: r.partition, offset: r.offset };
  return {
    id: deadLetterId({ service, partition: r.partition, offset: r.offset }),
    ref,
    dlq_topic,
    state,
    dead_lettered_at: new Date(r.timestamp_ms).toISOString(),
    service: dl.service,
    original_topic: dl.original_topic,
    original_partition: dl.original_partition,
    original_offset: dl.original_offset,
    key: dl.key,
    headers: dl.headers,
    error_class: dl.error_class,
    error_message: dl.error_message,
    error_stack: dl.error_stack,
    attempts: dl.attempts,
    first_failure_at: new Date(Number(dl.first_failure_at_ms)).toISOString(),
    last_failure_at: new Date(Number(dl.last_failure_at_ms)).toISOString(),
    traceparent: dl.traceparent,
    payload_bytes: dl.payload.length,
    payload_base64: Buffer.from(dl.payload).toString('base64'),
    value,
  };
}

function matches(e: DeadLetterEntry, f: DlqFilter): boolean {
  if (!f.include_resolved && (e.state === 'replayed' || e.state === 'purged')) return false;
  if (f.key !== undefined && e.key !== f.key) return false;
  if (f.error_contains !== undefined) {
    const needle = f.error_contains.toLowerCase();
    if (!e.error_message.toLowerCase().includes(needle) && !e.error_class.toLowerCase().includes(needle)) return false;
  }
  const last = Date.parse(e.last_failure_at);
  if (f.since_ms !== undefined && last < f.since_ms) return false;
  if (f.until_ms !== undefined && last >= f.until_ms) return false;
  return true;
}

async function select(
  ctx: DlqContext,
  refs: DeadLetterRef[] | undefined,
  filter: DlqFilter | undefined,
): Promise<{ entries: DeadLetterEntry[]; missing: string[] }> {
  if (refs && refs.length > 0) {
    const entries: DeadLetterEntry[] = [];
    const missing: string[] = [];
    const byService = new Map<string, DeadLetterEntry[]>();
    for (const ref of refs) {
      let all = byService.get(ref.service);
      if (!all) {
        all = (await readService(ctx, ref.service)).entries;
        byService.set(ref.service, all);
      }
      const e = all.find((x) => x.ref.partition === ref.partition && x.ref.offset === ref.offset);
      if (e) entries.push(e);
      else missing.push(deadLetterId(ref));
    }
    return { entries, missing };
  }
  if (!filter) throw new Error('select dead letters by id or by filter');
  return {
    entries: (await listDeadLetters(ctx, { ...filter, include_resolved: true, limit: filter.limit ?? DLQ_SCAN_RECORDS_MAX })).entries,
    missing: [],
  };
}

async function loadStates(ctx: DlqContext, dlq_topic: string): Promise<Map<string, DeadLetterState>> {
  const { rows } = await ctx.pool.query<{ dlq_partition: number; dlq_offset: string; state: DeadLetterState }>(
    'SELECT dlq_partition, dlq_offset, state FROM stream_dlq_state WHERE dlq_topic = $1',
    [dlq_topic],
  );
  return new Map(rows.map((r) => [`${r.dlq_partition}/${r.dlq_offset}`, r.state]));
}

/** Claims a dead letter for an action; returns the state that blocks it otherwise. */
async function claimState(
  ctx: DlqContext,
  e: DeadLetterEntry,
  state: 'replaying' | 'purged',
  actor: string,
  force: boolean,
): Promise<{ ok: true } | { ok: false; state: DeadLetterState }> {
  const inserted = await ctx.pool.query(
    `INSERT INTO stream_dlq_state (dlq_topic, dlq_partition, dlq_offset, state, actor) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [e.dlq_topic, e.ref.partition, e.ref.offset, state, actor],
  );
  if ((inserted.rowCount ?? 0) === 1) return { ok: true };
  const { rows } = await ctx.pool.query<{ state: DeadLetterState }>(
    'SELECT state FROM stream_dlq_state WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3',
    [e.dlq_topic, e.ref.partition, e.ref.offset],
  );
  const current = rows[0]?.state ?? 'open';
  if (force && state === 'replaying' && current === 'replaying') {
    await setState(ctx, e, 'replaying', actor);
    return { ok: true };
  }
  return { ok: false, state: current };
}

async function setState(ctx: DlqContext, e: DeadLetterEntry, state: DeadLetterState, actor: string): Promise<void> {
  await ctx.pool.query(
    'UPDATE stream_dlq_state SET state = $4, actor = $5, updated_at = now() WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3',
    [e.dlq_topic, e.ref.partition, e.ref.offset, state, actor],
  );
}

function skipReason(state: DeadLetterState): string {
  switch (state) {
    case 'replayed':
      return 'already replayed';
    case 'purged':
      return 'purged';
    case 'replaying':
      return 'replay in doubt (a previous replay did not confirm); re-run with --force to send it again';
    default:
      return 'open';
  }
}

async function auditRecord(
  ctx: DlqContext,
  e: DeadLetterEntry,
  action: 'replayed' | 'purged',
  actor: string,
  extra: Record<string, string>,
) {
  const v = (e.value ?? {}) as Record<string, unknown>;
  const ev = (typeof v.event === 'object' && v.event !== null ? v.event : v) as Record<string, unknown>;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const record = buildAudit({
    stage: 'operator',
    action,
    audit_id: `operator:${action}:${e.dlq_topic}:${e.ref.partition}:${e.ref.offset}`,
    provider: str(ev.provider),
    event_id: str(ev.event_id),
    event_type: str(ev.event_type),
    key: e.key,
    reason: e.error_class,
    trace_id: e.traceparent?.split('-')[1] ?? null,
    details: {
      service: e.service,
      actor,
      dlq_topic: e.dlq_topic,
      dlq_partition: String(e.ref.partition),
      dlq_offset: e.ref.offset,
      original_topic: e.original_topic,
      original_partition: String(e.original_partition),
      original_offset: e.original_offset,
      ...extra,
    },
  });
  return auditOutgoing(record, ctx.prefix, (topic, value) => ctx.codec.encode(topic, value));
}

async function truncateResolved(ctx: DlqContext, service: string) {
  const dlq_topic = topicName(dlqTopicBase(service), ctx.prefix);
  const { entries, complete } = await readService(ctx, service);
  const out: PurgeReport['truncated'] = [];
  if (!complete) return out; // never delete what was not fully read
  const marks = await ctx.transport.watermarks(dlq_topic);
  for (const [partition, { low, high }] of marks) {
    const open = entries
      .filter((e) => e.ref.partition === partition && (e.state === 'open' || e.state === 'replaying'))
      .map((e) => BigInt(e.ref.offset));
    const before = open.length > 0 ? open.reduce((a, b) => (a < b ? a : b)) : high;
    if (before > low) {
      await ctx.transport.deleteRecordsBefore(dlq_topic, partition, before);
      out.push({ dlq_topic, partition, before_offset: before.toString() });
    }
  }
  return out;
}
