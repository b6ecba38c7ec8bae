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
    expect(scrubSecrets('key whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw and MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe(
      'key [REDACTED] and [REDACTED]',
    );
    expect(createLogger('t')).toBeDefined();
  });
});

describe('trace sampling ratio', () => {
  it('defaults to every trace and accepts 0..1', async () => {
    const { traceSampleRatio } = await import('./telemetry.js');
    expect(traceSampleRatio({})).toBe(1);
    expect(traceSampleRatio({ TIDEMARK_TRACE_SAMPLE_RATIO: '0.1' })).toBe(0.1);
    expect(traceSampleRatio({ TIDEMARK_TRACE_SAMPLE_RATIO: '0' })).toBe(0);
  });
  it('names the variable when the value is not a ratio', async () => {
    const { traceSampleRatio } = await import('./telemetry.js');
    expect(() => traceSampleRatio({ TIDEMARK_TRACE_SAMPLE_RATIO: '1.5' })).toThrow(/TIDEMARK_TRACE_SAMPLE_RATIO="1.5"/);
    expect(() => traceSampleRatio({ TIDEMARK_TRACE_SAMPLE_RATIO: 'all' })).toThrow(/expected a number from 0 to 1/);
  });
});
