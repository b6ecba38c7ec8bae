/** Public API of @tidemark/compliance-screening (the service runs from main.ts). */
export * from './core/index.js';
export {
  createScreeningHandler,
  outputsFor,
  alertId,
  SERVICE,
  INPUT_TOPIC,
  SCREENED_TOPIC,
  ALERTS_TOPIC,
  type RiskAssessor,
  type ScreeningHandlerDeps,
} from './handler.js';
export { SanctionsHolder, loadSanctionsList } from './reference/sanctions-source.js';
export {
  RulesHolder,
  loadRules,
  loadNames,
  DEFAULT_RULES_FILE,
  DEFAULT_NAMES_FILE,
  DEFAULT_SANCTIONS_SOURCE,
} from './reference/rules-source.js';
export { RiskApiClient, type RiskClientOptions } from './risk/risk-client.js';
export { DecisionStore, migrate as migrateScreeningSchema } from './store/decision-store.js';
export { startFakeRiskApi, type FakeRiskApi } from './fake-risk-api/server.js';
export { fakeScore, type FakeScore } from './fake-risk-api/scoring.js';
export { loadScreeningConfig } from './config.js';
