import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { clusterRoleStatements, databaseStatements, DB_SERVICES, initScript, SERVICE_DB_ROLES, serviceDatabaseUrl } from './db-roles.js';

const INIT_SQL = new URL('../../postgres/initdb/10-tidemark-roles.sql', import.meta.url);

describe('least-privilege Postgres roles', () => {
  it('the compose init script is the generated one (its header says how to regenerate it)', () => {
    expect(readFileSync(INIT_SQL, 'utf8')).toBe(initScript());
  });

  it('no service role gets a privileged attribute, and every role is limited explicitly', () => {
    const sql = clusterRoleStatements().join('\n');
    expect(sql).not.toMatch(/\b(SUPERUSER|CREATEDB|CREATEROLE|REPLICATION|BYPASSRLS)\b/);
    for (const service of DB_SERVICES) {
      const { role } = SERVICE_DB_ROLES[service];
      expect(sql).toContain(`ALTER ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
    }
  });

  it('each schema is created owned by its service role; the ledger is readable by the reader role only for SELECT', () => {
    const sql = databaseStatements().join('\n');
    for (const service of DB_SERVICES) {
      const { role, schema } = SERVICE_DB_ROLES[service];
      if (schema) expect(sql).toContain(`CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${role}`);
    }
    expect(sql).toMatch(/GRANT SELECT ON ALL TABLES IN SCHEMA ledger TO tidemark_ledger_reader/);
    expect(sql).not.toMatch(/GRANT (INSERT|UPDATE|DELETE|TRUNCATE|ALL)/);
  });

  it("the console's role owns nothing and gets rows of the dead-letter state table only, no DDL", () => {
    const { role, schema } = SERVICE_DB_ROLES.console;
    expect(schema).toBeNull();
    expect(clusterRoleStatements()).toContain(`ALTER ROLE ${role} SET search_path = dlq_ops`);
    expect(clusterRoleStatements().filter((s) => s.startsWith('GRANT') && s.includes(role))).toEqual([]);
    const grants = databaseStatements().filter((s) => /^GRANT/.test(s) && s.endsWith(` TO ${role}`));
    expect(grants).toEqual([
      `GRANT USAGE ON SCHEMA dlq_ops TO ${role}`,
      `GRANT SELECT, INSERT, UPDATE ON dlq_ops.stream_dlq_state TO ${role}`,
    ]);
    // The schema and its table are created by the admin (no AUTHORIZATION: the console cannot alter or drop them).
    expect(databaseStatements()).toContain('CREATE SCHEMA IF NOT EXISTS dlq_ops');
  });

  it("a service's URL is the admin URL with the service's credentials", () => {
    expect(serviceDatabaseUrl('postgres://tidemark:tidemark@127.0.0.1:55432/tidemark_e2e_1?sslmode=disable', 'dedupe')).toBe(
      'postgres://tidemark_dedupe:tidemark_dedupe@127.0.0.1:55432/tidemark_e2e_1?sslmode=disable',
    );
  });
});
