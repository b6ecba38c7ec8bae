/**
 * deploy/prometheus/alerts.yml stays in step with the code: it parses, every alert
 * has a severity and a summary, and every metric an expression reads is defined
 * somewhere in the services' or packages' source (a renamed metric would otherwise
 * silently turn an alert into one that never fires). With promtool available
 * (PATH or TIDEMARK_PROMTOOL), the rules and their unit tests also run through it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRuleGroups, type PrometheusRule } from '@tidemark/local-infra/prometheus';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const PROM_DIR = join(ROOT, 'deploy/prometheus');
const SOURCE_DIRS = ['packages', 'services'].map((d) => join(ROOT, d));
/** Prefixes of Tidemark's own metric names. */
const OWN_METRIC = /\b(?:tidemark|ledger|reconciler)_[a-z0-9_]+\b/g;
const SERIES_SUFFIX = /_(?:bucket|count|sum)$/;
const SEVERITIES = new Set(['page', 'warn', 'info']);

function loadRules(): PrometheusRule[] {
  return parseRuleGroups(readFileSync(join(PROM_DIR, 'alerts.yml'), 'utf8')).flatMap((g) => g.rules);
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Metric names registered in the code: the first string argument of counter/gauge/(exemplar)histogram calls. */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  const call = /\.(?:counter|gauge|histogram|exemplarHistogram)\(\s*['"]([a-z0-9_]+)['"]/g;
  for (const file of SOURCE_DIRS.flatMap((d) => sourceFiles(d))) {
    for (const m of readFileSync(file, 'utf8').matchAll(call)) names.add(m[1]!);
  }
  return names;
}

function promtool(): string | null {
  const candidates = [process.env.TIDEMARK_PROMTOOL, ...(process.env.PATH ?? '').split(':').map((p) => join(p, 'promtool'))];
  return candidates.find((c): c is string => !!c && existsSync(c)) ?? null;
}

describe('deploy/prometheus/alerts.yml', () => {
  const rules = loadRules();

  it('has alerts for latency, failure rate, DLQ growth, lag, parked keys and readiness', () => {
    const alerts = new Set(rules.flatMap((r) => (r.alert ? [r.alert] : [])));
    for (const name of [
      'TidemarkProjectionLatencyHigh',
      'TidemarkIngress5xxRateHigh',
      'TidemarkIngressRejectedShareHigh',
      'TidemarkHandlerFailureRateHigh',
      'TidemarkDeadLettersGrowing',
      'TidemarkConsumerLagHigh',
      'TidemarkParkedKeysHigh',
      'TidemarkServiceNotReady',
    ]) {
      expect(alerts.has(name), name).toBe(true);
    }
    const latency = rules.find((r) => r.alert === 'TidemarkProjectionLatencyHigh')!;
    expect(latency.expr).toContain('histogram_quantile(0.99');
    expect(latency.expr).toContain('tidemark_received_to_projected_seconds_bucket');
    expect(latency.expr).toMatch(/> 0\.25\s*$/);
    expect(latency.for).toBe('5m');
    expect(rules.find((r) => r.alert === 'TidemarkDeadLettersGrowing')!.expr).toContain('[15m]');
  });

  it('every alert has a severity, a summary and a description', () => {
    for (const r of rules.filter((x) => x.alert)) {
      expect(SEVERITIES.has(r.labels?.severity ?? ''), `${r.alert} severity`).toBe(true);
      expect(r.annotations?.summary, `${r.alert} summary`).toBeTruthy();
      expect(r.annotations?.description, `${r.alert} description`).toBeTruthy();
    }
    for (const r of rules) expect(r.alert ?? r.record, 'rule without a name').toBeTruthy();
  });

  it('every metric an expression reads is defined in the code', () => {
    const defined = definedMetrics();
    // Sanity: the scan finds the runtime's and the services' metrics.
    expect(defined.has('tidemark_stream_consumer_lag')).toBe(true);
    expect(defined.has('tidemark_received_to_projected_seconds')).toBe(true);
    const missing: string[] = [];
    for (const r of rules) {
      for (const m of r.expr.matchAll(OWN_METRIC)) {
        const name = m[0].replace(SERIES_SUFFIX, '');
        if (!defined.has(name)) missing.push(`${r.alert ?? r.record}: ${m[0]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  const tool = promtool();
  it.skipIf(!tool)('passes promtool check rules / check config / test rules', () => {
    const run = (...args: string[]) => execFileSync(tool!, args, { cwd: PROM_DIR, encoding: 'utf8', stdio: 'pipe' });
    expect(run('check', 'rules', 'alerts.yml')).toContain('SUCCESS');
    expect(run('check', 'config', 'prometheus.yml')).toContain('SUCCESS');
    expect(run('test', 'rules', 'alerts.test.yml')).toContain('SUCCESS');
  });
});
