/** Public API of @tidemark/ingress (for the simulator, e2e tests and the bench). */
export { startIngress, loadProviders, EVENTS_TOPIC, AUDIT_TOPIC, type RunningIngress } from './app.js';
export { loadIngressConfig, ingressConfigShape, PROVIDERS_FILE_DEFAULT, type IngressConfig } from './config.js';
export { signWebhook, generateWhsecSecret, type SignOptions } from './signing.js';
export { parseProfiles, resolveProvider, verifierFor, type ProfileSpec, type Provider } from './core/profiles.js';
export { KNOWN_EVENT_TYPES, isKnownEventType, type KnownEventType } from './core/canonical.js';
export { MAPPERS, LEDGERPAY_EVENT_TYPES, CUSTODIAN_X_TRANSFER_TYPES } from './core/mappers/index.js';
export * from './core/signature/index.js';
