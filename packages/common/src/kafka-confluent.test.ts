import { describe, expect, it } from 'vitest';
import { threadpoolEnv, threadpoolWarning, UV_THREADPOOL_SIZE_MIN } from './kafka-confluent.js';

describe('libuv threadpool for the native Kafka client', () => {
  it('raises an unset UV_THREADPOOL_SIZE to the minimum and keeps an operator-set value', () => {
    expect(threadpoolEnv({ A: '1' })).toEqual({ A: '1', UV_THREADPOOL_SIZE: String(UV_THREADPOOL_SIZE_MIN) });
    expect(threadpoolEnv({ UV_THREADPOOL_SIZE: '64' }).UV_THREADPOOL_SIZE).toBe('64');
  });

  it('warns when the threadpool is left at Node’s default or set below the minimum', () => {
    expect(threadpoolWarning({})).toMatch(/UV_THREADPOOL_SIZE is unset \(4\)/);
    expect(threadpoolWarning({ UV_THREADPOOL_SIZE: '8' })).toMatch(/UV_THREADPOOL_SIZE is 8; .* at least 16/);
    expect(threadpoolWarning({ UV_THREADPOOL_SIZE: String(UV_THREADPOOL_SIZE_MIN) })).toBeNull();
  });
});
