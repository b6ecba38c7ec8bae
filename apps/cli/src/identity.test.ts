import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandEnv } from './identity.js';

// A state folder with the local broker's credentials, as `infra up` writes them.
const state_dir = mkdtempSync(join(tmpdir(), 'tidemark-identity-'));
mkdirSync(join(state_dir, 'secrets', 'kafka'), { recursive: true });
writeFileSync(
  join(state_dir, 'secrets', 'kafka', 'credentials.json'),
  JSON.stringify({ keystore_password: 'k', users: { 'tidemark-admin': 'admin-pw', 'tidemark-reconciler': 'reconciler-pw' } }),
);
const local = { TIDEMARK_STATE_DIR: state_dir, TIDEMARK_KAFKA_SECURITY: 'sasl_ssl' };
const LOCAL_ADMIN_URL = 'postgres://tidemark:tidemark@127.0.0.1:55432/tidemark';

afterAll(() => rmSync(state_dir, { recursive: true, force: true }));

describe("the CLI's identity per command against the local infrastructure", () => {
  it('reconcile runs as the reconciler: its Kafka principal and its read-only database role', () => {
    const env = commandEnv('reconcile', { ...local, TIDEMARK_DATABASE_URL: `${LOCAL_ADMIN_URL.replace(/tidemark$/, 'tidemark_e2e_1')}` });
    expect(env).toMatchObject({
      TIDEMARK_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      TIDEMARK_KAFKA_SASL_USERNAME: 'tidemark-reconciler',
      TIDEMARK_KAFKA_SASL_PASSWORD: 'reconciler-pw',
      TIDEMARK_DATABASE_URL: 'postgres://tidemark_reconciler:tidemark_reconciler@127.0.0.1:55432/tidemark_e2e_1',
    });
    // With no database URL set, the default (the local admin's) is replaced too.
    expect(commandEnv('reconcile', local).TIDEMARK_DATABASE_URL).toBe(
      'postgres://tidemark_reconciler:tidemark_reconciler@127.0.0.1:55432/tidemark',
    );
  });

  it('ledger check reads the ledger as the read-only reconciler role', () => {
    expect(commandEnv('ledger', local).TIDEMARK_DATABASE_URL).toBe(
      'postgres://tidemark_reconciler:tidemark_reconciler@127.0.0.1:55432/tidemark',
    );
  });

  it('dlq keeps the admin principal (truncate deletes records) and works the dead-letter state as the console role', () => {
    const env = commandEnv('dlq', local);
    expect(env.TIDEMARK_KAFKA_SASL_USERNAME).toBe('tidemark-admin');
    expect(env.TIDEMARK_DATABASE_URL).toBe('postgres://tidemark_console:tidemark_console@127.0.0.1:55432/tidemark');
  });

  it('admin commands stay the admin, with the environment database URL untouched', () => {
    for (const command of ['topics', 'access', 'infra']) {
      const env = commandEnv(command, { ...local, TIDEMARK_DATABASE_URL: LOCAL_ADMIN_URL });
      expect(env.TIDEMARK_KAFKA_SASL_USERNAME, command).toBe('tidemark-admin');
      expect(env.TIDEMARK_DATABASE_URL, command).toBeUndefined();
    }
  });

  it('keeps what the environment chose: its Kafka settings, a database URL with other credentials', () => {
    const deployed = {
      ...local,
      TIDEMARK_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      TIDEMARK_DATABASE_URL: 'postgres://tidemark_reconciler:s3cret@db:5432/tidemark',
    };
    expect(commandEnv('reconcile', deployed)).toEqual({});
    expect(
      commandEnv('reconcile', { ...local, TIDEMARK_DATABASE_URL: 'postgres://tidemark:other@db:5432/tidemark' }).TIDEMARK_DATABASE_URL,
    ).toBeUndefined();
  });
});
