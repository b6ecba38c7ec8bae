/**
 * Least-privilege Postgres: one login role per service that keeps state, each owning only its
 * own schema (its tables, its stream-runtime tables, its migration bookkeeping, found through the
 * role's search_path), and a read-only group role for the ledger that the reconciler logs in
 * through. No service role is a superuser or may create databases, roles or schemas; the admin
 * role (`tidemark`, the databases' owner, used by operators, the CLI and tests) is a member of
 * the service roles only so it can create their schemas for them.
 *
 * Two idempotent steps, as SQL:
 *  - `clusterRoleStatements` (run by a superuser, once per cluster: `infra up`, the compose init script);
 *  - `databaseStatements` (run by the admin role, once per database: `infra up` for the default
 *    database, `npm start`, the test stack for each database it creates).
 * The console reads the ledger through the ledger API with a `reader` token; its own role
 * (`tidemark_console`) reaches only the dead-letter operator state (`dlq_ops.stream_dlq_state`:
 * SELECT, INSERT, UPDATE), a table the provisioning creates, so the console runs no DDL.
 */

import { readFileSync } from 'node:fs';
import { POSTGRES } from './components.js';

export interface ServiceDbRole {
  role: string;
  /** The schema the role owns (null: owns nothing, e.g. the reconciler's temporary tables only). */
  schema: string | null;
  /** Member of the read-only ledger role. */
  reads_ledger: boolean;
  /** The role's search_path when it owns no schema (default: the ledger). */
  search_path?: string;
}

export const DB_ADMIN_ROLE_DEFAULT = 'tidemark';
export const LEDGER_READER_ROLE = 'tidemark_ledger_reader';
export const LEDGER_SCHEMA = 'ledger';
/** The dead-letter operator state (owned by the admin; the console may only read and write its rows). */
export const DLQ_STATE_SCHEMA = 'dlq_ops';
export const DLQ_STATE_TABLE = 'stream_dlq_state';

/** Which role each service process connects as. */
export const SERVICE_DB_ROLES = {
  dedupe: { role: 'tidemark_dedupe', schema: 'dedupe', reads_ledger: false },
  'compliance-screening': { role: 'tidemark_screening', schema: 'compliance', reads_ledger: false },
  'ledger-projector': { role: 'tidemark_ledger', schema: LEDGER_SCHEMA, reads_ledger: false },
  reconciler: { role: 'tidemark_reconciler', schema: null, reads_ledger: true },
  console: { role: 'tidemark_console', schema: null, reads_ledger: false, search_path: DLQ_STATE_SCHEMA },
} as const satisfies Record<string, ServiceDbRole>;

export type DbService = keyof typeof SERVICE_DB_ROLES;
export const DB_SERVICES = Object.keys(SERVICE_DB_ROLES) as DbService[];

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain SQL identifier: ${JSON.stringify(name)}`);
  return name;
}
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/**
 * The local development password of a service role: its name (like the admin's `tidemark`/`tidemark`).
 * Deployments set real ones (docker-compose and Kubernetes read them from their secrets).
 */
export function localPassword(service: DbService): string {
  return SERVICE_DB_ROLES[service].role;
}

/** Cluster level, as a superuser: the roles, their attributes, their search_path, and the admin's membership. */
export function clusterRoleStatements(admin_role = DB_ADMIN_ROLE_DEFAULT, password = localPassword): string[] {
  const admin = ident(admin_role);
  const create = (role: string) =>
    `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}) THEN CREATE ROLE ${ident(role)}; END IF; END $$`;
  const limits = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS';
  const out = [create(LEDGER_READER_ROLE), `ALTER ROLE ${LEDGER_READER_ROLE} WITH NOLOGIN ${limits}`];
  for (const service of DB_SERVICES) {
    const spec: ServiceDbRole = SERVICE_DB_ROLES[service];
    const { role, schema, reads_ledger } = spec;
    out.push(create(role));
    out.push(`ALTER ROLE ${ident(role)} WITH LOGIN ${limits} PASSWORD ${literal(password(service))}`);
    // Unqualified names (the stream runtime's tables, the migration bookkeeping) land in the role's own schema.
    out.push(`ALTER ROLE ${ident(role)} SET search_path = ${ident(schema ?? spec.search_path ?? LEDGER_SCHEMA)}`);
    if (reads_ledger) out.push(`GRANT ${LEDGER_READER_ROLE} TO ${ident(role)}`);
    // The admin creates the service's schema with AUTHORIZATION <role>, which needs membership.
    if (schema) out.push(`GRANT ${ident(role)} TO ${admin}`);
  }
  out.push(`GRANT ${LEDGER_READER_ROLE} TO ${admin}`);
  return out;
}

/** Hands schemas made before the roles existed (and their tables) to their service roles. */
function adoptSchemas(pairs: Array<{ schema: string; role: string }>): string {
  const values = pairs.map((p) => `(${literal(p.schema)}, ${literal(p.role)})`).join(', ');
  return `DO $$ DECLARE s record; r record; BEGIN
  FOR s IN SELECT * FROM (VALUES ${values}) AS v(schema_name, role_name) LOOP
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = s.schema_name AND pg_get_userbyid(nspowner) <> s.role_name) THEN
      EXECUTE format('ALTER SCHEMA %I OWNER TO %I', s.schema_name, s.role_name);
    END IF;
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = s.schema_name AND c.relkind IN ('r', 'p', 'v', 'm') AND pg_get_userbyid(c.relowner) <> s.role_name LOOP
      EXECUTE format('ALTER %s %s OWNER TO %I', CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END, r.name, s.role_name);
    END LOOP;
  END LOOP;
END $$`;
}

/**
 * Database level, as the admin role (the database's owner), in one transaction: the service
 * schemas owned by their roles, the read-only grants on the ledger (also for tables created
 * later), and nobody else creating anything in `public`.
 */
export function databaseStatements(): string[] {
  const out = [`SELECT pg_advisory_xact_lock(hashtext('tidemark.db-roles'))`, 'REVOKE CREATE ON SCHEMA public FROM PUBLIC'];
  const owned = DB_SERVICES.flatMap((service) => {
    const { role, schema } = SERVICE_DB_ROLES[service];
    return schema ? [{ schema, role }] : [];
  });
  for (const { schema, role } of owned) out.push(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)} AUTHORIZATION ${ident(role)}`);
  out.push(adoptSchemas(owned));
  for (const { schema } of owned) out.push(`REVOKE ALL ON SCHEMA ${ident(schema)} FROM PUBLIC`);
  const ledger_role = SERVICE_DB_ROLES['ledger-projector'].role;
  // The ledger's migration bookkeeping lived in public before: move it beside the ledger.
  out.push(`DO $$ BEGIN
  IF to_regclass('public.ledger_migrations') IS NOT NULL AND to_regclass('${LEDGER_SCHEMA}.ledger_migrations') IS NULL THEN
    ALTER TABLE public.ledger_migrations SET SCHEMA ${LEDGER_SCHEMA};
    ALTER TABLE ${LEDGER_SCHEMA}.ledger_migrations OWNER TO ${ledger_role};
  END IF;
END $$`);
  out.push(`GRANT USAGE ON SCHEMA ${LEDGER_SCHEMA} TO ${LEDGER_READER_ROLE}`);
  out.push(`GRANT SELECT ON ALL TABLES IN SCHEMA ${LEDGER_SCHEMA} TO ${LEDGER_READER_ROLE}`);
  out.push(`ALTER DEFAULT PRIVILEGES FOR ROLE ${ledger_role} IN SCHEMA ${LEDGER_SCHEMA} GRANT SELECT ON TABLES TO ${LEDGER_READER_ROLE}`);
  out.push(...dlqStateStatements());
  return out;
}

const STREAM_MIGRATION = new URL('../../../packages/stream/migrations/001_stream_runtime.sql', import.meta.url);

/** The stream runtime's own definition of the state table (its migration), created as `table` if missing. */
function dlqStateTableDdl(table: string): string {
  const ddl = new RegExp(`CREATE TABLE ${DLQ_STATE_TABLE} \\([\\s\\S]*?\\n\\);`).exec(readFileSync(STREAM_MIGRATION, 'utf8'))?.[0];
  if (!ddl) throw new Error(`the stream runtime's migration no longer defines ${DLQ_STATE_TABLE}`);
  return ddl.replace(`CREATE TABLE ${DLQ_STATE_TABLE}`, `CREATE TABLE IF NOT EXISTS ${table}`).replace(/;$/, '');
}

/**
 * The dead-letter operator state, owned by the admin: the console (and `tidemark dlq`, which acts as it) reads
 * and writes its rows and can change nothing else. The columns are those of the stream runtime's migration
 * (packages/stream/migrations/001_stream_runtime.sql), which creates the table itself where no provisioning
 * ran; `test/integration/db-roles.int.test.ts` checks they agree. State kept in `public` by the admin-run
 * console of before is carried over (idempotent: rows already here win).
 */
function dlqStateStatements(): string[] {
  const table = `${DLQ_STATE_SCHEMA}.${DLQ_STATE_TABLE}`;
  const console_role = SERVICE_DB_ROLES.console.role;
  const columns = 'dlq_topic, dlq_partition, dlq_offset, state, actor, updated_at';
  return [
    `CREATE SCHEMA IF NOT EXISTS ${DLQ_STATE_SCHEMA}`,
    `REVOKE ALL ON SCHEMA ${DLQ_STATE_SCHEMA} FROM PUBLIC`,
    dlqStateTableDdl(table),
    `DO $$ BEGIN
  IF to_regclass('public.${DLQ_STATE_TABLE}') IS NOT NULL THEN
    INSERT INTO ${table} (${columns}) SELECT ${columns} FROM public.${DLQ_STATE_TABLE} ON CONFLICT DO NOTHING;
  END IF;
END $$`,
    `GRANT USAGE ON SCHEMA ${DLQ_STATE_SCHEMA} TO ${console_role}`,
    `GRANT SELECT, INSERT, UPDATE ON ${table} TO ${console_role}`,
  ];
}

/** Minimal client surface (a pg.Client or pg.PoolClient). */
export interface SqlClient {
  query(sql: string): Promise<unknown>;
}

/** Runs `databaseStatements` in one transaction on a connection of the admin role to the target database. */
export async function provisionDatabase(client: SqlClient): Promise<void> {
  await client.query('BEGIN');
  try {
    for (const sql of databaseStatements()) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The service's connection URL: the admin URL (host, port, database, parameters) with the service role's credentials. */
export function serviceDatabaseUrl(admin_url: string, service: DbService, password = localPassword(service)): string {
  const url = new URL(admin_url);
  url.username = SERVICE_DB_ROLES[service].role;
  url.password = password;
  return url.toString();
}

/**
 * The service's URL when `url` carries the local infrastructure's admin credentials (whose roles have the local
 * development passwords), else null: a URL with other credentials is someone's deliberate choice and is kept.
 */
export function localServiceDatabaseUrl(url: string, service: DbService): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const local_admin = decodeURIComponent(parsed.username) === POSTGRES.user && decodeURIComponent(parsed.password) === POSTGRES.password;
  return local_admin ? serviceDatabaseUrl(url, service) : null;
}

/**
 * Sets up the database at `admin_url` (a connection of its owner, the admin role) for the
 * service roles; the roles themselves come from `infra up` (they need a superuser).
 */
export async function provisionDatabaseAt(admin_url: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: admin_url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await provisionDatabase(client);
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(
      /role .* does not exist/.test(message)
        ? `the services' database roles are missing (${message}); \`npx tidemark infra up\` creates them`
        : `could not set the database up for the service roles: ${message}`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The whole setup as one psql script for a fresh cluster whose `admin_role` is the superuser and owns the
 * database (the postgres image's init scripts: deploy/postgres/initdb/10-tidemark-roles.sql).
 */
export function initScript(admin_role = DB_ADMIN_ROLE_DEFAULT): string {
  const header = [
    '-- Generated by deploy/local/src/db-roles.ts (initScript); db-roles.test.ts checks it is in sync. Regenerate with:',
    `--   npx tsx -e "import('./deploy/local/src/db-roles.ts').then((m) => process.stdout.write(m.initScript()))" > deploy/postgres/initdb/10-tidemark-roles.sql`,
    '-- Least-privilege roles for the Tidemark services: each owns only its schema; the reconciler reads the ledger.',
    '-- The passwords are the local development ones: a deployment changes them (ALTER ROLE ... PASSWORD).',
  ];
  const tx = ['BEGIN', ...databaseStatements(), 'COMMIT'];
  return `${header.join('\n')}\n${[...clusterRoleStatements(admin_role), ...tx].map((s) => `${s};`).join('\n')}\n`;
}
