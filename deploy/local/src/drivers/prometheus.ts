import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST, PROMETHEUS } from '../components.js';
import { httpOk } from '../health.js';
import { findRepoRoot } from '../paths.js';
import { commandExists, exec, spawnDetached } from '../proc.js';
import { prometheusConfigYaml } from '../prometheus.js';
import { ensureAptPackages, ensureDirs } from './common.js';
import type { Driver, InfraContext } from './types.js';

/** The repo's rules, loaded as they are (absent when the package runs outside the repo). */
function repoRuleFiles(): string[] {
  const root = findRepoRoot();
  const file = root ? join(root, 'deploy', 'prometheus', 'alerts.yml') : null;
  return file && existsSync(file) ? [file] : [];
}

function prometheusBinary(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : '';
  return path || null;
}

/**
 * Debian's package starts its own service on install where systemd runs. We only want the binary:
 * our instance has its own config, data dir and port, so stop and disable the package's one.
 */
async function disablePackageService(ctx: InfraContext): Promise<void> {
  if (!existsSync('/run/systemd/system') || !commandExists('systemctl')) return;
  const active = spawnSync('systemctl', ['is-active', '--quiet', PROMETHEUS.systemd_unit]).status === 0;
  const enabled = spawnSync('systemctl', ['is-enabled', '--quiet', PROMETHEUS.systemd_unit]).status === 0;
  if (!active && !enabled) return;
  ctx.log(
    `prometheus: the Debian package enabled its own ${PROMETHEUS.systemd_unit}.service; disabling it (Tidemark runs its own instance)`,
  );
  await exec('systemctl', ['disable', '--now', PROMETHEUS.systemd_unit], { log_file: join(ctx.paths.logs_dir, 'apt.log') });
}

let versionCache: string | null | undefined;

export const prometheusDriver: Driver = {
  name: 'prometheus',
  stop_signal: 'SIGTERM',
  ports: (ctx) => ({ prometheus: ctx.ports.prometheus }),
  owns: (cmdline, ctx) => cmdline.includes('prometheus') && cmdline.includes(`--config.file=${ctx.paths.prometheus_config}`),
  isInstalled: () => prometheusBinary() !== null,
  async install(ctx) {
    ensureDirs(ctx.paths.logs_dir);
    await ensureAptPackages(ctx, [PROMETHEUS.apt_package], 'Prometheus is not installed');
    await disablePackageService(ctx);
    versionCache = undefined;
  },
  async start(ctx) {
    const bin = prometheusBinary();
    if (!bin) throw new Error('prometheus binary not found on PATH');
    ensureDirs(
      ctx.paths.conf_dir,
      ctx.paths.data('prometheus'),
      ctx.paths.logs_dir,
      ctx.paths.prometheus_targets_dir,
      ctx.paths.prometheus_rules_dir,
    );
    // Rule files of earlier test runs that did not clean up would keep alerting: start from the repo's rules only.
    for (const f of readdirSync(ctx.paths.prometheus_rules_dir)) rmSync(join(ctx.paths.prometheus_rules_dir, f), { force: true });
    writeFileSync(
      ctx.paths.prometheus_config,
      prometheusConfigYaml({
        port: ctx.ports.prometheus,
        rule_files: repoRuleFiles(),
        rules_dir: ctx.paths.prometheus_rules_dir,
        targets_dir: ctx.paths.prometheus_targets_dir,
      }),
    );
    return spawnDetached(
      bin,
      [
        `--config.file=${ctx.paths.prometheus_config}`,
        `--storage.tsdb.path=${ctx.paths.data('prometheus')}`,
        `--storage.tsdb.retention.time=${PROMETHEUS.retention_time}`,
        `--storage.tsdb.retention.size=${PROMETHEUS.retention_size}`,
        `--web.listen-address=${HOST}:${ctx.ports.prometheus}`,
        `--web.external-url=http://${HOST}:${ctx.ports.prometheus}/`,
        // POST /-/reload picks up new rule files (tests); the API binds to loopback only.
        '--web.enable-lifecycle',
        '--enable-feature=exemplar-storage',
      ],
      { cwd: ctx.paths.data('prometheus'), log_file: ctx.paths.log('prometheus') },
    );
  },
  health: (ctx) => httpOk(`http://${HOST}:${ctx.ports.prometheus}/-/ready`),
  version() {
    if (versionCache === undefined) {
      const bin = prometheusBinary();
      const r = bin ? spawnSync(bin, ['--version'], { encoding: 'utf8' }) : null;
      versionCache = r ? (/version (\S+)/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[1] ?? null) : null;
    }
    return versionCache;
  },
};
