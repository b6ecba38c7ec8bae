export * from './types.js';
export { constantTimeEqual } from './compare.js';
export { standardWebhooks, decodeStandardWebhooksSecret } from './standard-webhooks.js';
export { createStripeStyle } from './stripe-style.js';
export { createHexHmac } from './hex-hmac.js';
