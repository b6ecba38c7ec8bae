import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadServiceConfig } from './config.js';
import { createLogger, registerSecret, scrubSecrets } from './log.js';

describe('config', () => {
  it('applies defaults', () => {
    const c = loadServiceConfig({}, {});
    expect(c.TIDEMARK_KAFKA_BROKERS).toBe('127.0.0.1:9092');
    expect(c.TIDEMARK_TOPIC_PREFIX).toBe('');
  });
  it('names the bad key', () => {
    expect(() => loadServiceConfig({ PORT: z.coerce.number().int().max(65535) }, { PORT: '99999' })).toThrow(ConfigError);
    expect(() => loadServiceConfig({}, { TIDEMARK_REGISTRY_URL: 'not a url' })).toThrow(/TIDEMARK_REGISTRY_URL/);
  });
});

describe('logging', () => {
  it('scrubs registered secrets from every line', () => {
    registerSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(scrubSecrets('key whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw and MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe('key [REDACTED] and [REDACTED]');
    expect(createLogger('t')).toBeDefined();
  });
});
