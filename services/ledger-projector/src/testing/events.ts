/** Builders of screened events and runtime input records for tests and the benchmark. */
import { canonicalEvent, type CanonicalEvent, type Decision, type ScreenedEvent } from '@tidemark/common';
import type { InputRecord } from '@tidemark/stream';

export function screenedEvent(
  over: Partial<CanonicalEvent> & Pick<CanonicalEvent, 'event_id' | 'event_type'>,
  decision: Decision = 'ALLOW',
): ScreenedEvent {
  const wallet = over.wallet_id ?? 'wal_42';
  return {
    event: canonicalEvent({
      ingress_id: `ing_${over.event_id}`,
      provider: 'generic',
      occurred_at_ms: 1_764_000_000_000,
      received_at_ms: 1_764_000_000_500,
      partition_key: wallet,
      transaction_id: 'tx_1',
      wallet_id: wallet,
      asset: 'BTC',
      network: 'bitcoin',
      amount: '0.5',
      body_sha256: '0'.repeat(64),
      ...over,
    }),
    screening: {
      decision,
      reasons:
        decision === 'ALLOW'
          ? []
          : [
              {
                code: 'AMOUNT_THRESHOLD',
                rule_id: 'amount-btc',
                outcome: decision,
                message: 'over threshold',
                matched_value: null,
                score: null,
                list_version: null,
              },
            ],
      sanctions_list_version: 'test',
      rules_version: 'test',
      screened_at_ms: 1_764_000_000_600,
    },
  };
}

let offset = 0;
export function inputRecord(value: ScreenedEvent): InputRecord<ScreenedEvent> {
  offset += 1;
  return {
    key: value.event.partition_key,
    value,
    headers: {},
    source: { topic: 'events.screened.v1', partition: 0, offset: String(offset) },
    attempt: 1,
    timestamp_ms: value.event.received_at_ms,
  };
}
