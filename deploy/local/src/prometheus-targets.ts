/** Prometheus scrape-target registration (file_sd), rule files and reloads. */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCRAPED_SERVICES, type ScrapedService } from './components.js';
import { context } from './context.js';
import { findRepoRoot } from './paths.js';
import { fileSdTargets, targetsFileName } from './prometheus.js';
import { endpointsFor } from './status.js';

/**
 * Registers a stack's services with Prometheus (file_sd: picked up within seconds, no reload):
 * `ports` maps each service to its /metrics port(s). Replaces the stack's earlier registration.
 */
export function registerScrapeTargets(stack: string, ports: Partial<Record<ScrapedService, number[]>>): void {
  const ctx = context(() => undefined);
  mkdirSync(ctx.paths.prometheus_targets_dir, { recursive: true });
  unregisterScrapeTargets(stack);
  for (const [service, list] of Object.entries(ports) as [ScrapedService, number[]][]) {
    if (list.length === 0) continue;
    const file = join(ctx.paths.prometheus_targets_dir, targetsFileName(service, stack));
    writeFileSync(`${file}.tmp`, fileSdTargets(list, stack));
    renameSync(`${file}.tmp`, file); // Prometheus watches the directory: never let it read half a file
  }
}

export function unregisterScrapeTargets(stack: string): void {
  const ctx = context(() => undefined);
  for (const service of SCRAPED_SERVICES) rmSync(join(ctx.paths.prometheus_targets_dir, targetsFileName(service, stack)), { force: true });
}

/** Asks the running Prometheus to re-read its config and rule files (POST /-/reload). */
export async function reloadPrometheus(): Promise<void> {
  const url = endpointsFor(context(() => undefined)).prometheus_url; // = infraEndpoints()
  if (!url) throw new Error('prometheus is not running (`npx tidemark infra up`)');
  const res = await fetch(`${url}/-/reload`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`POST ${url}/-/reload: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
}

/** Adds (or replaces) an extra rule file `<name>.yml` and reloads Prometheus; the text is validated by Prometheus on reload. */
export async function installRuleFile(name: string, yamlText: string): Promise<void> {
  const ctx = context(() => undefined);
  if (!/^[a-z0-9_-]+$/.test(name)) throw new Error(`rule file name ${JSON.stringify(name)}: use [a-z0-9_-]`);
  mkdirSync(ctx.paths.prometheus_rules_dir, { recursive: true });
  writeFileSync(join(ctx.paths.prometheus_rules_dir, `${name}.yml`), yamlText);
  await reloadPrometheus();
}

export async function removeRuleFile(name: string): Promise<void> {
  const ctx = context(() => undefined);
  rmSync(join(ctx.paths.prometheus_rules_dir, `${name}.yml`), { force: true });
  await reloadPrometheus();
}

/** The repo's alert rules file (what the local Prometheus loads). */
export function alertRulesFile(): string {
  const root = findRepoRoot();
  if (!root) throw new Error('cannot find the Tidemark repository root');
  return join(root, 'deploy', 'prometheus', 'alerts.yml');
}
