import { describe, expect, it } from 'vitest';
import { processEnv } from './platform.js';

const ADMIN_URL = 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';

describe('the environment of a started process', () => {
  it('never inherits the admin database URL: a process gets one only from its own spec', () => {
    const parent = { TIDEMARK_DATABASE_URL: ADMIN_URL, TIDEMARK_LOG_LEVEL: 'info' };
    const ingress = processEnv(
      parent,
      { TIDEMARK_TOPIC_PREFIX: 'p.' },
      { name: 'ingress', entry: 'x.ts', env: { TIDEMARK_INGRESS_PORT: '1' } },
    );
    expect(ingress.TIDEMARK_DATABASE_URL).toBeUndefined();
    expect(ingress).toMatchObject({ TIDEMARK_LOG_LEVEL: 'info', TIDEMARK_TOPIC_PREFIX: 'p.', TIDEMARK_INGRESS_PORT: '1' });
    // Nor from the Platform's base environment.
    expect(processEnv({}, { TIDEMARK_DATABASE_URL: ADMIN_URL }, { name: 'risk-api', entry: 'x.ts' }).TIDEMARK_DATABASE_URL).toBeUndefined();
    const own = 'postgres://tidemark_console:tidemark_console@127.0.0.1:55432/tidemark';
    const console_env = processEnv(parent, {}, { name: 'console', entry: 'x.ts', env: { TIDEMARK_DATABASE_URL: own } });
    expect(console_env.TIDEMARK_DATABASE_URL).toBe(own);
  });
});
