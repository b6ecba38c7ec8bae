import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, INSTALL_TIMEOUTS_MS, JAVA_MIN_MAJOR, MAVEN, POSTGRES, VERSIONS } from '../components.js';
import { apicurioJavaArgs, registryUrl, type ApicurioInput } from '../config.js';
import { httpOk, pgHealth } from '../health.js';
import { exec, spawnDetached } from '../proc.js';
import { ensureDirs, ensureJava, installAtomically, javaMajorOf, mvn } from './common.js';
import type { Driver, InfraContext } from './types.js';

const INSTALLED_MARKER = '.installed';

function input(ctx: InfraContext): ApicurioInput {
  return {
    http_port: ctx.ports.registry,
    management_port: ctx.ports.registry_management,
    pg_port: ctx.ports.postgres,
    tmp_dir: join(ctx.paths.data('apicurio'), 'tmp'),
    marker: ctx.paths.state_dir,
  };
}

export const apicurioDriver: Driver = {
  name: 'apicurio',
  stop_signal: 'SIGTERM',
  ports: (ctx) => ({ registry: ctx.ports.registry, registry_management: ctx.ports.registry_management }),
  owns: (cmdline, ctx) =>
    cmdline.includes('quarkus-run.jar') &&
    cmdline.includes(ctx.paths.apicurio_home) &&
    cmdline.includes(`-Dtidemark.state=${ctx.paths.state_dir}`),
  isInstalled: (ctx) =>
    existsSync(join(ctx.paths.apicurio_home, INSTALLED_MARKER)) && existsSync(join(ctx.paths.apicurio_home, 'quarkus-run.jar')),
  async install(ctx) {
    ctx.log(`apicurio: fetching ${MAVEN.apicurio_artifact} from Maven Central ...`);
    ensureDirs(ctx.paths.cache_dir, ctx.paths.logs_dir);
    await installAtomically(ctx.paths.apicurio_home, async (tmp) => {
      const dl = join(tmp, '.download');
      ensureDirs(dl);
      await mvn(ctx, [`${MAVEN.dependency_plugin}:copy`, `-Dartifact=${MAVEN.apicurio_artifact}`, `-DoutputDirectory=${dl}`], dl);
      const tarball = readdirSync(dl).find((f) => f.endsWith('.tar.gz'));
      if (!tarball) throw new Error(`Maven did not produce the ${MAVEN.apicurio_artifact} archive`);
      // The archive is the Quarkus fast-jar layout at its top level (quarkus-run.jar, lib/, app/, quarkus/).
      await exec('tar', ['xzf', join(dl, tarball), '-C', tmp], { timeout_ms: INSTALL_TIMEOUTS_MS.extract });
      rmSync(dl, { recursive: true, force: true });
      if (!existsSync(join(tmp, 'quarkus-run.jar'))) throw new Error(`${tarball} has no quarkus-run.jar at its top level`);
      writeFileSync(join(tmp, INSTALLED_MARKER), `${MAVEN.apicurio_artifact}\n`);
    });
  },
  async start(ctx) {
    const java = await ensureJava(ctx, JAVA_MIN_MAJOR.apicurio);
    ctx.log(`apicurio: using ${java} (Java ${javaMajorOf(java)})`);
    const pg = await pgHealth({
      host: HOST,
      port: ctx.ports.postgres,
      user: POSTGRES.registry_user,
      password: POSTGRES.registry_password,
      database: POSTGRES.registry_database,
    });
    if (!pg.ok) throw new Error(`the registry stores its schemas in PostgreSQL, which is not reachable: ${pg.detail}`);
    const i = input(ctx);
    ensureDirs(ctx.paths.data('apicurio'), i.tmp_dir, ctx.paths.logs_dir);
    return spawnDetached(java, apicurioJavaArgs({ ...i, quarkus_run_jar: join(ctx.paths.apicurio_home, 'quarkus-run.jar') }), {
      cwd: ctx.paths.data('apicurio'),
      log_file: ctx.paths.log('apicurio'),
    });
  },
  async health(ctx) {
    const ready = await httpOk(`http://${HOST}:${ctx.ports.registry_management}/health/ready`);
    if (!ready.ok) return ready;
    const api = await httpOk(`${registryUrl(ctx.ports.registry)}/subjects`);
    return api.ok ? { ok: true, detail: `ready; ${api.detail}` } : api;
  },
  extraLogs: (ctx) => [join(ctx.paths.logs_dir, 'maven.log')],
  version: (ctx) => (apicurioDriver.isInstalled(ctx) ? VERSIONS.apicurio : null),
};
