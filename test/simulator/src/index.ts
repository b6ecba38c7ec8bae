/**
 * @tidemark/test provider simulator — library entry point.
 *
 * Start a whole simulator (webhooks to ingress + statements/truth server):
 *   const running = await startSimulator({ scenario: loadScenario('e2e'), ingress_url, listen: { host: '127.0.0.1', port: 0 } });
 *   await running.done;                       // every webhook acknowledged or given up
 *   running.sim.truth.balances();             // expected ledger balances (DESIGN 3.3)
 *   running.sim.truth.expectedDiscrepancies(); // what the reconciler must find
 *   await running.stop();
 */
export { startSimulator, keysFromEnv, generateSecrets, providersOf, type RunningSimulator, type StartOptions } from './runtime.js';
export {
  Simulation,
  type SimulationOptions,
  type SimulationStatus,
  type RatePlan,
  type Transport,
  type StatementsResponse,
} from './simulation.js';
export { loadScenario, loadSanctionsSnapshot, DEFAULT_SANCTIONS_DIR, SCENARIOS_DIR } from './adapters/files.js';
export { HttpWebhookSender, parseRetryAfter_ms, type SendResult, type SenderOptions } from './adapters/http-sender.js';
export { createSimulatorApp, startSimulatorServer, transactionView } from './adapters/server.js';
export { startSink } from './load/sink.js';
export { LatencyRecorder, type LatencySummary } from './load/latency.js';
export { benchGenerateSign, benchHttp } from './load/bench.js';

export { ScenarioGenerator, defaultNamespace, TRAVEL_RULE_USD_MICRO, type Generated, type GeneratorOptions } from './core/generate.js';
export { DeliveryScheduler, retryDelay_ms, type Delivery, type DeliveryOutcome, type DeliveryStats } from './core/delivery.js';
export {
  GroundTruth,
  sanctionedBlocks,
  expectedOrAllow,
  DECISION_POLICIES,
  type DecisionFn,
  type DecisionPolicy,
  type TruthView,
  type WalletBalances,
  type BalanceLine,
  type ExpectedDiscrepancy,
  type TransactionRecord,
} from './core/truth.js';
export { transactionEffect, ReferenceLedger, type Buckets, type LedgerEvent, type Posting } from './core/effects.js';
export {
  statementsPage,
  statementRecordOf,
  effectiveStatus,
  encodeCursor,
  decodeCursor,
  type StatementRecord,
  type WireStatementRecord,
  type Page,
} from './core/statements.js';
export {
  parseScenario,
  scenarioSchema,
  statementKnobsSchema,
  PROVIDER_IDS,
  type Scenario,
  type ScenarioInput,
  type ProviderId,
  type StatementKnobs,
} from './core/scenario.js';
export { ASSETS, NETWORKS, assetSpec, type AssetSymbol, type NetworkId } from './core/assets.js';
export { formatFixed, formatCanonical, parseUnits } from './core/money.js';
export { Rng } from './core/rng.js';
export { sanctionedAddressesByNetwork, type SanctionsSnapshot } from './core/sanctions.js';
export type * from './core/model.js';
export { EVENT_TYPES } from './core/model.js';
export {
  PROFILES,
  profileOf,
  genericProfile,
  ledgerpayProfile,
  custodianXProfile,
  standardWebhooksSignature,
  keysFromSecrets,
  type ProviderProfile,
  type ProviderKeys,
} from './profiles/profiles.js';
