/**
 * Structured JSON logging (one object per line) that never prints a secret.
 * Known secret values are registered at start-up and scrubbed from every line;
 * well-known sensitive fields are redacted by path.
 */
import pino, { type Logger } from 'pino';

const registeredSecrets = new Set<string>();

/** Registers a secret value (and its whsec_-less form) to be scrubbed from all logs. */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 6) return;
  registeredSecrets.add(value);
  if (value.startsWith('whsec_')) registeredSecrets.add(value.slice('whsec_'.length));
}

/** Replaces every registered secret inside `text` with [REDACTED]. */
export function scrubSecrets(text: string): string {
  let out = text;
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}

const REDACT_PATHS = [
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'headers["webhook-signature"]',
  'req.headers["webhook-signature"]',
  'headers["stripe-signature"]',
  'headers["x-signature"]',
  'signature',
  '*.signature',
];

export type { Logger };

export function createLogger(service: string, level: string = process.env.TIDEMARK_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: {
      streamWrite: (line) => scrubSecrets(line),
    },
  });
}
