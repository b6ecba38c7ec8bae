/**
 * The ledger projector as a handler on the shared stream runtime: consumes
 * events.screened.v1, projects each event into Postgres exactly once (processed event
 * ids committed in the same database transaction as the postings), and returns the
 * ledger.balances.v1 records and 'projected' audit notes to publish.
 */
import type { Pool } from 'pg';
import type { Logger, Metrics, ScreenedEvent } from '@tidemark/common';
import { type Handler, type HandlerResult, type InputRecord, PermanentError } from '@tidemark/stream';
import { InvalidEventError, type LedgerInput, toLedgerInput } from './core/validate.js';
import { LedgerConflictError } from './core/transaction.js';
import { asInfrastructureError, isRetryableRace } from './db/errors.js';
import { KnownAccounts, SERVICE_NAME, projectInTransaction } from './db/project.js';

export const INPUT_TOPIC = 'events.screened.v1';
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
    lag_seconds: metrics.histogram(
      'ledger_projection_lag_seconds',
      'Time from event occurrence / ingress arrival to projection, per event type',
      ['event_type', 'since'],
      [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    ),
  };
}

function toInput(record: InputRecord<ScreenedEvent>): LedgerInput {
  try {
    return toLedgerInput(record.value);
  } catch (err) {
    if (err instanceof InvalidEventError) throw new PermanentError(`ledger cannot project record at ${record.source.topic}/${record.source.partition}@${record.source.offset}: ${err.message}`);
    throw err;
  }
}

export function createLedgerHandler(opts: LedgerHandlerOptions): LedgerHandler {
  const { pool, logger } = opts;
  const now_ms = opts.now_ms ?? (() => Date.now());
  const chunk_max = opts.db_batch_size_max ?? DB_BATCH_SIZE_MAX;
  const known = new KnownAccounts();
  const m = ledgerMetrics(opts.metrics);

  async function projectChunk(inputs: LedgerInput[]): Promise<HandlerResult[]> {
    for (let attempt = 1; ; attempt += 1) {
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
          m?.lag_seconds.observe({ event_type: input.meta.event_type, since: 'occurred' }, Math.max(0, stamp - input.meta.occurred_at_ms) / 1000);
          m?.lag_seconds.observe({ event_type: input.meta.event_type, since: 'received' }, Math.max(0, stamp - input.meta.received_at_ms) / 1000);
        }
        if (out.stats.replayed > 0) logger.info({ replayed: out.stats.replayed, fresh: out.stats.fresh }, 'ledger: re-delivered events answered from processed records');
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
      results.push(...(await projectChunk(inputs.slice(i, i + chunk_max))));
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
