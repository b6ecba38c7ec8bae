/**
 * The plan of one chunk (a run of records of one input topic-partition that commit
 * in one Kafka transaction), as a pure state machine.
 *
 * The runtime (and the property-test model) feeds it the key's parked rows as read
 * from Postgres, asks `route` for each record in order, calls the handler for records
 * that may be processed, and reports the outcome. The plan keeps an in-chunk view of
 * the parked rows (so a later record of the same key in the same chunk sees the
 * effect of an earlier one) and accumulates what must be written:
 *  - `upserts`: rows to insert/update in Postgres BEFORE the Kafka commit (parking is
 *    conservative: a row that exists while its record is not in the ladder only makes
 *    later records of the key wait; it never lets one overtake);
 *  - `completions`: rows of records that finished (handled or dead-lettered), deleted
 *    only AFTER the Kafka commit, so nothing of the key can be processed before this
 *    chunk's outputs are visible.
 */
import { afterFailure, dueAtMs, routeRecord, type ErrorClass, type LadderPolicy, type ParkedView, type Route } from './ladder.js';

export interface SourceRef {
  topic: string;
  partition: number;
  offset: bigint;
}

export interface ParkedRow {
  key: string;
  source: SourceRef;
  rung: number;
  attempts_made: number;
}

export interface PlanRecord {
  key: string;
  source: SourceRef;
  /** Attempts made before this read (from the ladder headers; 0 from the main topic). */
  attempts_made: number;
  first_failure_at_ms: number | null;
}

export type Disposition =
  | { kind: 'handled' }
  | { kind: 'followed'; rung: number; due_at_ms: number; head_offset: bigint; attempts_made: number }
  | {
      kind: 'retry';
      rung: number;
      due_at_ms: number;
      attempts_made: number;
      first_failure_at_ms: number;
      error_message: string;
    }
  | {
      kind: 'dead_lettered';
      error_class: ErrorClass;
      attempts_made: number;
      first_failure_at_ms: number;
      error_message: string;
    };

export function sourceId(s: SourceRef): string {
  return `${s.topic}\u0000${s.partition}\u0000${s.offset}`;
}

export class ChunkPlan {
  private readonly view = new Map<string, Map<string, ParkedView & { row: ParkedRow }>>();
  /** Rows that existed in Postgres when the chunk started, by source id. */
  private readonly loaded = new Set<string>();
  readonly upserts = new Map<string, ParkedRow>();
  readonly completions = new Map<string, SourceRef>();
  readonly dispositions = new Map<string, Disposition>();

  constructor(
    private readonly policy: LadderPolicy,
    parked_rows: Iterable<ParkedRow>,
    private readonly now_ms: () => number = Date.now,
  ) {
    for (const row of parked_rows) {
      this.loaded.add(sourceId(row.source));
      this.put(row);
    }
  }

  /** May `rec` be processed now, or must it follow its key's head into the ladder? */
  route(rec: PlanRecord): Route {
    const rows = this.view.get(rec.key);
    return routeRecord(rec.source.offset, rows ? rows.values() : []);
  }

  /** The record follows its key's head to `rung` (unprocessed; its attempt count is kept). */
  follow(rec: PlanRecord, route: Extract<Route, { kind: 'follow' }>): Disposition {
    this.park(rec, route.rung, rec.attempts_made);
    return this.settle(rec, {
      kind: 'followed',
      rung: route.rung,
      due_at_ms: dueAtMs(this.now_ms(), route.rung, this.policy),
      head_offset: route.head_offset,
      attempts_made: rec.attempts_made,
    });
  }

  /** The handler processed the record. */
  handled(rec: PlanRecord): Disposition {
    this.finish(rec);
    return this.settle(rec, { kind: 'handled' });
  }

  /** The handler failed on the record (attempt number `rec.attempts_made + 1`). */
  failed(rec: PlanRecord, error_class: ErrorClass, error_message: string): Disposition {
    const attempts_made = rec.attempts_made + 1;
    const now = this.now_ms();
    const first_failure_at_ms = rec.first_failure_at_ms ?? now;
    const next = afterFailure(error_class, attempts_made, this.policy);
    if (next.kind === 'retry') {
      this.park(rec, next.rung, attempts_made);
      return this.settle(rec, {
        kind: 'retry',
        rung: next.rung,
        due_at_ms: dueAtMs(now, next.rung, this.policy),
        attempts_made,
        first_failure_at_ms,
        error_message,
      });
    }
    this.finish(rec);
    return this.settle(rec, { kind: 'dead_lettered', error_class: next.error_class, attempts_made, first_failure_at_ms, error_message });
  }

  /** Keys with parked rows in the chunk's current view. */
  parkedKeys(): string[] {
    return [...this.view.entries()].filter(([, rows]) => rows.size > 0).map(([key]) => key);
  }

  /** The record is (again) parked on `rung`: upserted, and no longer complete. */
  private park(rec: PlanRecord, rung: number, attempts_made: number): void {
    const row: ParkedRow = { key: rec.key, source: rec.source, rung, attempts_made };
    this.put(row);
    this.upserts.set(sourceId(rec.source), row);
    this.completions.delete(sourceId(rec.source));
  }

  private finish(rec: PlanRecord): void {
    const id = sourceId(rec.source);
    this.view.get(rec.key)?.delete(id);
    this.upserts.delete(id);
    if (this.loaded.has(id)) this.completions.set(id, rec.source);
  }

  private settle(rec: PlanRecord, d: Disposition): Disposition {
    const id = sourceId(rec.source);
    if (this.dispositions.has(id))
      throw new Error(`record ${rec.source.topic}/${rec.source.partition}/${rec.source.offset} settled twice in one chunk`);
    this.dispositions.set(id, d);
    return d;
  }

  private put(row: ParkedRow): void {
    let rows = this.view.get(row.key);
    if (!rows) {
      rows = new Map();
      this.view.set(row.key, rows);
    }
    rows.set(sourceId(row.source), { source_offset: row.source.offset, rung: row.rung, row });
  }
}
