/**
 * @tidemark/stream: the shared consumer runtime every consuming service plugs into
 * (ordered per-key processing, retry ladder with parking, dead letters, exactly-once
 * publication, trace context, metrics, audit) and the DLQ operations.
 */
export * from './handler.js';
export { runConsumer, recordSpan, BATCH_SIZE_MAX_DEFAULT, type RunConsumerOptions, type RunningConsumer } from './runtime/consumer.js';
export { LATENCY_BUCKETS_SECONDS } from './runtime/metrics.js';
export { classifyFailure, retryStartup, type FailureKind } from './errors.js';
export { afterFailure, routeRecord, rungTopicBase, dlqTopicBase, type ErrorClass, type LadderPolicy } from './core/ladder.js';
export * from './core/headers.js';
export { migrate, loadSqlMigrations, MigrationError, type Migration } from './pg/migrate.js';
export { migrateStreamTables, ParkingStore } from './parking/store.js';
export type { KafkaTransport } from './kafka/transport.js';
export { KafkajsTransport } from './kafka/kafkajs.js';
export { ConfluentTransport } from './kafka/confluent.js';
export { createTransport, kafkaClientFromEnv, createStreamKafka } from './kafka/select.js';
export { installAbortedTransactionFix, installKafkajsPatches } from '@tidemark/common';
export {
  openDlqContext,
  listDeadLetters,
  showDeadLetter,
  replayDeadLetters,
  purgeDeadLetters,
  parseDeadLetterId,
  deadLetterId,
  DLQ_LIST_LIMIT_DEFAULT,
  type DlqContext,
  type DlqFilter,
  type DeadLetterEntry,
  type DeadLetterRef,
  type DeadLetterState,
  type ReplayReport,
  type PurgeReport,
} from './dlq/ops.js';
export { dlqCli, type DlqAction } from './dlq/cli.js';
