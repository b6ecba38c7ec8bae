/**
 * The dedupe handler: webhooks.received.v1 → events.unique.v1, the first delivery of
 * each (provider, event id) passes unchanged; redeliveries are counted and audited.
 */
import type { CanonicalEvent, Metrics } from '@tidemark/common';
import { H_REPLAY_SOURCE, PermanentError, type Handler, type HandlerResult, type InputRecord } from '@tidemark/stream';
import { decide, dedupeKey, keyId, parseCoordinates, type DedupeKey } from './core/dedupe.js';
import type { ClaimStore } from './store.js';

export const DEDUPE_SERVICE = 'dedupe';
export const DEDUPE_INPUT = 'webhooks.received.v1';
export const DEDUPE_OUTPUT = 'events.unique.v1';

export class DedupeHandler implements Handler<CanonicalEvent> {
  readonly service = DEDUPE_SERVICE;
  readonly input_topic = DEDUPE_INPUT;
  private readonly passed;
  private readonly duplicates;

  constructor(
    private readonly store: ClaimStore,
    metrics: Metrics,
  ) {
    this.passed = metrics.counter(
      'tidemark_dedupe_passed_total',
      'First deliveries passed to events.unique.v1 (counted per handling; a crash replay counts again)',
    );
    this.duplicates = metrics.counter('tidemark_dedupe_duplicates_total', 'Redeliveries dropped as duplicates', ['provider']);
  }

  async handle(record: InputRecord<CanonicalEvent>): Promise<HandlerResult> {
    const [result] = await this.handleBatch([record]);
    return result!;
  }

  async handleBatch(records: InputRecord<CanonicalEvent>[]): Promise<HandlerResult[]> {
    const keys: DedupeKey[] = records.map((r) => {
      const check = dedupeKey(r.value);
      if (!check.ok)
        throw new PermanentError(
          `event at ${r.source.topic}/${r.source.partition}/${r.source.offset} has no usable dedupe key: ${check.reason}`,
        );
      return check.key;
    });
    const claims = await this.store.claim(records.map((r, i) => ({ key: keys[i]!, source: r.source })));
    return records.map((r, i) => {
      const key = keys[i]!;
      const decision = decide(claims.get(keyId(key))!, r.source, parseCoordinates(r.headers[H_REPLAY_SOURCE]));
      const facts = { provider: key.provider, event_id: key.event_id, event_type: r.value.event_type, key: r.key };
      if (decision.kind === 'pass') {
        this.passed.inc();
        return {
          outputs: [{ topic: DEDUPE_OUTPUT, key: r.key, value: r.value }],
          audit: [{ action: 'passed', ...facts, details: { ingress_id: r.value.ingress_id } }],
        };
      }
      this.duplicates.inc({ provider: key.provider });
      const first = decision.first;
      return {
        outputs: [],
        audit: [
          {
            action: 'duplicate',
            ...facts,
            reason: 'DUPLICATE_DELIVERY',
            details: {
              ingress_id: r.value.ingress_id,
              first_topic: first.topic,
              first_partition: String(first.partition),
              first_offset: first.offset,
            },
          },
        ],
      };
    });
  }
}
