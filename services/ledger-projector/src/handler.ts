/**
 * The ledger projector as a handler on the shared stream runtime: consumes
 * events.screened.v1, projects each event into Postgres exactly once (processed event
 * ids committed in the same database transaction as the postings), and returns the
 * ledger.balances.v1 records and 'projected' audit notes to publish.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import {
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  tracer,
  type Logger,
  type Metrics,
  type ScreenedEvent,
  type Span,
} from '@tidemark/common';
import { LATENCY_BUCKETS_SECONDS, type Handler, type HandlerResult, type InputRecord, PermanentError, recordSpan } from '@tidemark/stream';
import { InvalidEventError, type LedgerInput, toLedgerInput } from './core/validate.js';
import { LedgerConflictError } from './core/transaction.js';
import { asInfrastructureError, isRetryableRace } from './db/errors.js';
import { projectInTransaction } from './db/project.js';
import { KnownAccounts } from './db/statements.js';
import { INPUT_TOPIC, SERVICE_NAME } from './topics.js';

/** Largest number of events projected in one database transaction. */
export const DB_BATCH_SIZE_MAX = 2_000;
/** Attempts of one database batch when it loses a race with a concurrent writer. */
export const RACE_ATTEMPTS_MAX = 3;

export interface LedgerHandlerOptions {
  pool: Pool;
  logger: Logger;
  metrics?: Metrics;
  now_ms?: () => number;
  db_batch_size_max?: number;
}

export interface LedgerHandler extends Handler<ScreenedEvent> {
  handleBatch(records: InputRecord<ScreenedEvent>[]): Promise<HandlerResult[]>;
}

function ledgerMetrics(metrics: Metrics | undefined) {
  if (!metrics) return null;
  return {
    events: metrics.counter('ledger_events_total', 'Events processed by the ledger projector', ['outcome']),
    postings: metrics.counter('ledger_postings_total', 'Postings written'),
    batch_seconds: metrics.histogram('ledger_batch_duration_seconds', 'Duration of one projection database transaction'),
    // Exemplars carry the event's trace id: a slow bucket in Prometheus leads to the trace in Jaeger.
    received_to_projected: metrics.exemplarHistogram(
      'tidemark_received_to_projected_seconds',
      "Time from the event's arrival at ingress (received_at_ms) to its projection into the ledger (projected_at), per event type",
      ['event_type'],
      [...LATENCY_BUCKETS_SECONDS],
    ),
    occurred_to_projected: metrics.exemplarHistogram(
      'tidemark_occurred_to_projected_seconds',
      "Time from the event's occurrence at the provider (occurred_at_ms) to its projection into the ledger, per event type",
      ['event_type'],
      [...LATENCY_BUCKETS_SECONDS, 120, 300, 900, 3600],
    ),
  };
}

export const PG_SPAN_NAME = 'ledger-projector pg.project_batch';

/**
 * One short span per record around the database transaction that projects the
 * record's batch, each a child of that record's stream-runtime span, so every
 * event's trace ends with its Postgres write. They share `tidemark.db_batch_id`
 * (find the siblings by that tag) and carry the batch size. Chosen over one span
 * with links because Jaeger's trace view does not follow links: a per-record child
 * keeps "one trace per event, HTTP request to Postgres write" literally true.
 */
function startPgSpans(records: readonly InputRecord<ScreenedEvent>[]): Span[] {
  const batch_id = randomUUID();
  const t = tracer('tidemark-ledger');
  return records.map((record, i) => {
    const parentSpan = recordSpan(record);
    const parent = parentSpan ? trace.setSpan(context.active(), parentSpan) : context.active();
    const ev = record.value?.event;
    return t.startSpan(
      PG_SPAN_NAME,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system': 'postgresql',
          'db.system.name': 'postgresql',
          'db.operation.name': 'project_batch',
          'tidemark.db_batch_id': batch_id,
          'tidemark.db_batch_size': records.length,
          'tidemark.db_batch_index': i,
          'tidemark.provider': ev?.provider ?? '',
          'tidemark.event_type': ev?.event_type ?? '',
          'tidemark.wallet_id': ev?.wallet_id ?? '',
          'tidemark.event_id': ev?.event_id ?? '',
        },
      },
      parent,
    );
  });
}

function endPgSpans(spans: Span[], outcome: { attempts: number; error?: unknown }): void {
  for (const span of spans) {
    span.setAttribute('tidemark.db_attempts', outcome.attempts);
    if (outcome.error !== undefined) {
      span.recordException(outcome.error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (outcome.error as Error)?.message ?? String(outcome.error) });
    }
    span.end();
  }
}

function toInput(record: InputRecord<ScreenedEvent>): LedgerInput {
  try {
    return toLedgerInput(record.value);
  } catch (err) {
    if (err instanceof InvalidEventError)
      throw new PermanentError(
        `ledger cannot project record at ${record.source.topic}/${record.source.partition}@${record.source.offset}: ${err.message}`,
      );
    throw err;
  }
}

export function createLedgerHandler(opts: LedgerHandlerOptions): LedgerHandler {
  const { pool, logger } = opts;
  const now_ms = opts.now_ms ?? (() => Date.now());
  const chunk_max = opts.db_batch_size_max ?? DB_BATCH_SIZE_MAX;
  const known = new KnownAccounts();
  const m = ledgerMetrics(opts.metrics);

  async function projectChunk(inputs: LedgerInput[], records: InputRecord<ScreenedEvent>[]): Promise<HandlerResult[]> {
    const spans = startPgSpans(records);
    let attempts = 0;
    const trace_ids = records.map((r) => recordSpan(r)?.spanContext().traceId ?? null);
    try {
      const results = await projectChunkAttempts(inputs, trace_ids, () => (attempts += 1));
      endPgSpans(spans, { attempts });
      return results;
    } catch (err) {
      endPgSpans(spans, { attempts, error: err });
      throw err;
    }
  }

  async function projectChunkAttempts(
    inputs: LedgerInput[],
    trace_ids: Array<string | null>,
    onAttempt: () => void,
  ): Promise<HandlerResult[]> {
    for (let attempt = 1; ; attempt += 1) {
      onAttempt();
      const started = performance.now();
      const stamp = now_ms();
      let client;
      try {
        client = await pool.connect();
      } catch (err) {
        throw asInfrastructureError(err, 'ledger: connecting to Postgres');
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await projectInTransaction(client, inputs, stamp, known);
        await client.query('COMMIT');
        known.addAll(out.new_accounts);
        m?.batch_seconds.observe((performance.now() - started) / 1000);
        m?.postings.inc(out.stats.postings);
        for (const [i, input] of inputs.entries()) {
          const note = out.results[i]?.audit?.[0];
          m?.events.inc({ outcome: note?.details?.outcome ?? 'unknown' });
          // projected_at is `stamp` (stored with the record); re-delivered events count again with their new latency.
          m?.occurred_to_projected.observe(
            { event_type: input.meta.event_type },
            Math.max(0, stamp - input.meta.occurred_at_ms) / 1000,
            trace_ids[i],
          );
          m?.received_to_projected.observe(
            { event_type: input.meta.event_type },
            Math.max(0, stamp - input.meta.received_at_ms) / 1000,
            trace_ids[i],
          );
        }
        if (out.stats.replayed > 0)
          logger.info(
            { replayed: out.stats.replayed, fresh: out.stats.fresh },
            'ledger: re-delivered events answered from processed records',
          );
        return out.results;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        if (err instanceof LedgerConflictError) throw new PermanentError(err.message, { cause: err });
        if (isRetryableRace(err) && attempt < RACE_ATTEMPTS_MAX) {
          logger.warn({ attempt, code: (err as { code?: string }).code }, 'ledger: batch lost a race with a concurrent writer; retrying');
          continue;
        }
        const wrapped = asInfrastructureError(err, 'ledger: projecting a batch');
        if (wrapped !== err) broken = true;
        throw wrapped;
      } finally {
        client.release(broken ? true : undefined);
      }
    }
  }

  async function handleBatch(records: InputRecord<ScreenedEvent>[]): Promise<HandlerResult[]> {
    const inputs = records.map(toInput);
    const results: HandlerResult[] = [];
    for (let i = 0; i < inputs.length; i += chunk_max) {
      results.push(...(await projectChunk(inputs.slice(i, i + chunk_max), records.slice(i, i + chunk_max))));
    }
    return results;
  }

  return {
    service: SERVICE_NAME,
    input_topic: INPUT_TOPIC,
    async handle(record) {
      const [result] = await handleBatch([record]);
      if (!result) throw new Error('ledger: handleBatch returned no result for a record');
      return result;
    },
    handleBatch,
  };
}
