export * from './config.js';
export * from './log.js';
export * from './metrics.js';
export * from './ops.js';
export * from './kafka.js';
export * from './kafka-confluent.js';
export * from './registry.js';
export * from './avro.js';
export * from './topics.js';
export * from './acls.js';
export * from './money.js';
export * from './telemetry.js';
export * from './audit.js';
export * from './lifecycle.js';
export * from './schemas/catalog.js';
export type * from './generated/records.js';
export { DecisionValues, EventSourceValues, ErrorClassValues, DiscrepancyKindValues } from './generated/records.js';
export * from './schemas/compat.js';
export * from './schemas/generated-file.js';
export * from './events.js';
export {
  installKafkajsPatches,
  installAbortedTransactionFix,
  hideAbortedRecords,
  invalidatesCoordinator,
  KAFKAJS_PATCHED_VERSION,
} from './kafkajs-patches.js';
export * from './pg.js';
