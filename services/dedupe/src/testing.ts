/** Test support: an integration environment with dedupe's topics and its consumer. */
import { createTestEnv, type TestEnv } from '@tidemark/stream/testing';

/** A fresh environment (own topic prefix and schema) for dedupe, its retry ladder waiting `retry_delays_ms`. */
export function createDedupeTestEnv(retry_delays_ms: number[]): Promise<TestEnv> {
  return createTestEnv({
    topics: ['webhooks.received.v1', 'events.unique.v1', 'audit.v1'],
    consumers: [{ service: 'dedupe', input: 'webhooks.received.v1', retry_delays_ms, retry_partitions: 3, dlq_retention_ms: 86_400_000 }],
  });
}
