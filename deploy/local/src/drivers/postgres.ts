import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV, HOST, INSTALL_TIMEOUTS_MS, POSTGRES } from '../components.js';
import { pgHbaConf, postgresConf } from '../config.js';
import { clusterRoleStatements, provisionDatabase } from '../db-roles.js';
import { pgHealth, type Health } from '../health.js';
import { exec, isAlive, readCmdline, spawnDetached } from '../proc.js';
import { ensureAptPackages, ensureDirs, isRoot } from './common.js';
import type { Driver, InfraContext } from './types.js';

const PG_ROOT = '/usr/lib/postgresql';
const INCLUDE_LINE = "include_if_exists = 'tidemark.conf'";

/** Highest installed major version's bin dir (or TIDEMARK_PG_BIN_DIR). */
export function pgBinDir(env: NodeJS.ProcessEnv): string | null {
  const fromEnv = env[ENV.pg_bin_dir];
  if (fromEnv) return existsSync(join(fromEnv, 'initdb')) ? fromEnv : null;
  let versions: string[] = [];
  try {
    versions = readdirSync(PG_ROOT).filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')));
  } catch {
    return null;
  }
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : null;
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

function lookupUser(name: string): OsUser | null {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const f = r.stdout.trim().split(':');
  return { name, uid: Number(f[2]), gid: Number(f[3]) };
}

/** Postgres refuses to run as root: as root we run it as the Debian `postgres` user, else a created system user. */
async function pgOsUser(ctx: InfraContext): Promise<OsUser | null> {
  if (!isRoot()) return null;
  const wanted = ctx.env[ENV.pg_os_user];
  if (wanted) {
    const u = lookupUser(wanted);
    if (!u) throw new Error(`${ENV.pg_os_user}=${wanted}: no such OS user`);
    return u;
  }
  const debian = lookupUser('postgres');
  if (debian) return debian;
  const own = lookupUser(POSTGRES.fallback_os_user);
  if (own) return own;
  ctx.log(`creating system user ${POSTGRES.fallback_os_user} to run postgres`);
  await exec('useradd', [
    '--system',
    '--user-group',
    '--no-create-home',
    '--home-dir',
    '/nonexistent',
    '--shell',
    '/usr/sbin/nologin',
    POSTGRES.fallback_os_user,
  ]);
  const created = lookupUser(POSTGRES.fallback_os_user);
  if (!created) throw new Error(`could not create OS user ${POSTGRES.fallback_os_user}`);
  return created;
}

function chownTo(path: string, user: OsUser | null): void {
  if (user) chownSync(path, user.uid, user.gid);
}

const versionCache = new Map<string, string | null>();

function pgVersion(bin: string | null): string | null {
  if (!bin) return null;
  if (!versionCache.has(bin)) {
    const r = spawnSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' });
    const m = /\(PostgreSQL\)\s+(\S+)/.exec(r.stdout ?? '');
    versionCache.set(bin, m ? m[1]! : null);
  }
  return versionCache.get(bin) ?? null;
}

function requireBin(ctx: InfraContext): string {
  const bin = pgBinDir(ctx.env);
  if (!bin) throw new Error(`PostgreSQL binaries not found under ${PG_ROOT}/*/bin (or ${ENV.pg_bin_dir})`);
  return bin;
}

async function initdb(ctx: InfraContext, bin: string, dataDir: string, user: OsUser | null): Promise<void> {
  ctx.log(`postgres: initdb ${dataDir}`);
  rmSync(dataDir, { recursive: true, force: true });
  ensureDirs(dataDir);
  chownTo(dataDir, user);
  chmodSync(dataDir, 0o700);
  try {
    await exec(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', POSTGRES.superuser, '-E', 'UTF8', '--locale=C', '--auth-local=trust', '--auth-host=scram-sha-256'],
      {
        uid: user?.uid,
        gid: user?.gid,
        cwd: dataDir,
        env: { ...process.env, HOME: dataDir, LC_ALL: 'C' },
        log_file: ctx.paths.log('postgres'),
        timeout_ms: INSTALL_TIMEOUTS_MS.initdb,
      },
    );
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(join(dataDir, 'pg_hba.conf'), pgHbaConf());
  chownTo(join(dataDir, 'pg_hba.conf'), user);
  appendFileSync(join(dataDir, 'postgresql.conf'), `\n# Tidemark settings (generated)\n${INCLUDE_LINE}\n`);
}

/**
 * Lock files left by a crashed server (postmaster.pid in the data dir, .s.PGSQL.<port>.lock in the socket
 * dir) whose pid is dead, a zombie or now someone else's would block the start: remove them.
 */
function clearStaleLockFiles(dataDir: string, socketDir: string): void {
  const stale = (file: string): boolean => {
    try {
      const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
      return !isAlive(pid) || !readCmdline(pid).includes(dataDir);
    } catch {
      return false;
    }
  };
  const pidFile = join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile) && stale(pidFile)) rmSync(pidFile, { force: true });
  for (const f of readdirSync(socketDir)) {
    const m = /^(\.s\.PGSQL\.\d+)\.lock$/.exec(f);
    if (m && stale(join(socketDir, f))) {
      rmSync(join(socketDir, f), { force: true });
      rmSync(join(socketDir, m[1]!), { force: true });
    }
  }
}

export const postgresDriver: Driver = {
  name: 'postgres',
  stop_signal: 'SIGINT',
  ports: (ctx) => ({ postgres: ctx.ports.postgres }),
  owns: (cmdline, ctx) => cmdline.includes('postgres') && cmdline.includes(ctx.paths.data('postgres')),
  isInstalled: (ctx) => pgBinDir(ctx.env) !== null,
  async install(ctx) {
    await ensureAptPackages(ctx, [POSTGRES.apt_package], 'PostgreSQL is not installed');
    if (!pgBinDir(ctx.env)) throw new Error('apt-get installed postgresql but no initdb was found');
  },
  async start(ctx) {
    const bin = requireBin(ctx);
    const user = await pgOsUser(ctx);
    const dataDir = ctx.paths.data('postgres');
    ensureDirs(ctx.paths.data_dir, ctx.paths.logs_dir, ctx.paths.pg_socket_dir);
    chownTo(ctx.paths.pg_socket_dir, user);
    chmodSync(ctx.paths.pg_socket_dir, 0o755);
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await initdb(ctx, bin, dataDir, user);
    // An existing cluster must match the binaries' major version.
    const clusterMajor = readFileSync(join(dataDir, 'PG_VERSION'), 'utf8').trim();
    const binMajor = (pgVersion(bin) ?? '').split('.')[0];
    if (binMajor && clusterMajor !== binMajor) {
      throw new Error(`data dir ${dataDir} is PostgreSQL ${clusterMajor} but the binaries are ${binMajor}; run \`infra reset\``);
    }
    const conf = join(dataDir, 'tidemark.conf');
    writeFileSync(conf, postgresConf({ port: ctx.ports.postgres, socket_dir: ctx.paths.pg_socket_dir }));
    chownTo(conf, user);
    clearStaleLockFiles(dataDir, ctx.paths.pg_socket_dir);
    return spawnDetached(join(bin, 'postgres'), ['-D', dataDir], {
      uid: user?.uid,
      gid: user?.gid,
      cwd: dataDir,
      env: { ...process.env, HOME: dataDir, LC_ALL: 'C', PGDATA: dataDir },
      log_file: ctx.paths.log('postgres'),
    });
  },
  health: (ctx) => pgHealth({ host: ctx.paths.pg_socket_dir, port: ctx.ports.postgres, user: POSTGRES.superuser, database: 'postgres' }),
  async afterHealthy(ctx) {
    await bootstrapRoles(ctx);
    const tcp: Health = await pgHealth({
      host: HOST,
      port: ctx.ports.postgres,
      user: POSTGRES.user,
      password: POSTGRES.password,
      database: POSTGRES.database,
    });
    if (!tcp.ok) throw new Error(`postgres is up but the tidemark role cannot log in over TCP: ${tcp.detail}`);
  },
  extraLogs: (ctx) => [join(ctx.paths.logs_dir, 'apt.log')],
  version: (ctx) => pgVersion(pgBinDir(ctx.env)),
};

/**
 * Roles and databases, idempotently: tidemark/tidemark (the admin: owner of the databases, CREATEDB for tests),
 * apicurio/apicurio for the registry, and the services' least-privilege roles with their schemas in the default database.
 */
async function bootstrapRoles(ctx: InfraContext): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ host: ctx.paths.pg_socket_dir, port: ctx.ports.postgres, user: POSTGRES.superuser, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const pairs: [string, string, string, string][] = [
      [POSTGRES.user, POSTGRES.password, POSTGRES.database, 'CREATEDB'],
      [POSTGRES.registry_user, POSTGRES.registry_password, POSTGRES.registry_database, 'NOCREATEDB'],
    ];
    for (const [role, password, database, createdb] of pairs) {
      const ident = client.escapeIdentifier(role);
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (exists.rowCount === 0) {
        ctx.log(`postgres: creating role ${role}`);
        await client.query(`CREATE ROLE ${ident} LOGIN`);
      }
      await client.query(`ALTER ROLE ${ident} WITH LOGIN ${createdb} PASSWORD ${client.escapeLiteral(password)}`);
      const db = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (db.rowCount === 0) {
        ctx.log(`postgres: creating database ${database}`);
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)} OWNER ${ident} ENCODING 'UTF8'`);
      }
    }
    // Least privilege: one role per service (db-roles.ts), then the default database's schemas for them.
    for (const sql of clusterRoleStatements(POSTGRES.user)) await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
  const admin = new pg.Client({
    host: ctx.paths.pg_socket_dir,
    port: ctx.ports.postgres,
    user: POSTGRES.superuser,
    database: POSTGRES.database,
  });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    // As the database's owner, so the schemas' default privileges are the admin's as everywhere else.
    await admin.query(`SET ROLE ${admin.escapeIdentifier(POSTGRES.user)}`);
    await provisionDatabase(admin);
  } finally {
    await admin.end().catch(() => undefined);
  }
}
