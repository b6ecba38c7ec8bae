export { DedupeHandler, DEDUPE_SERVICE, DEDUPE_INPUT, DEDUPE_OUTPUT } from './handler.js';
export { ClaimStore, migrateDedupe } from './store.js';
export { decide, dedupeKey, windowCutoffMs, DEDUPE_WINDOW_DAYS_MIN } from './core/dedupe.js';
export { loadDedupeConfig, dedupeConfigShape } from './config.js';
