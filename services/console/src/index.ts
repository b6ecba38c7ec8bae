/** @tidemark/console — the ops console (the service runs from main.ts). */
export { createConsole, COOKIE, type ConsoleOptions } from './app.js';
export { SessionStore, may, type Role, type Session } from './core/session.js';
export { summarize, type PipelineView } from './core/pipeline.js';
export { parsePrometheus, quantile } from './core/prom.js';
export { loadConsoleConfig, scrapeTargets, type ConsoleConfig } from './config.js';
