import { describe, expect, it } from 'vitest';
import { loadConsoleConfig, reconcilerEnv } from './config.js';

const BASE = { TIDEMARK_API_TOKENS: 'op:op-token-aaaaaaaaaaaa:operator' };

describe('the environment of the reconciliations the console starts', () => {
  it("runs them as the reconciler: its database role and its Kafka principal instead of the console's", () => {
    const env = {
      ...BASE,
      TIDEMARK_DATABASE_URL: 'postgres://console@db/tidemark',
      TIDEMARK_KAFKA_SASL_USERNAME: 'tidemark-console',
      TIDEMARK_KAFKA_SASL_PASSWORD: 'console-password',
      TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL: 'postgres://reconciler@db/tidemark',
      TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME: 'tidemark-reconciler',
      TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD: 'reconciler-password',
    };
    const child = reconcilerEnv(loadConsoleConfig(env), env);
    expect(child.TIDEMARK_DATABASE_URL).toBe('postgres://reconciler@db/tidemark');
    expect(child.TIDEMARK_KAFKA_SASL_USERNAME).toBe('tidemark-reconciler');
    expect(child.TIDEMARK_KAFKA_SASL_PASSWORD).toBe('reconciler-password');
  });

  it("keeps the console's environment when nothing is configured, and refuses a username without a password", () => {
    const env = { ...BASE, TIDEMARK_KAFKA_SASL_USERNAME: 'tidemark-console' };
    expect(reconcilerEnv(loadConsoleConfig(env), env).TIDEMARK_KAFKA_SASL_USERNAME).toBe('tidemark-console');
    expect(() => loadConsoleConfig({ ...BASE, TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME: 'tidemark-reconciler' })).toThrow(
      /set both or neither/,
    );
  });
});
