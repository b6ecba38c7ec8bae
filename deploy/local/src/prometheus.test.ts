import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PORT_SPECS, PROMETHEUS, SCRAPED_SERVICES } from './components.js';
import { resolvePorts } from './config.js';
import { describeJaegerBuild, type JaegerBuildProgress } from './drivers/jaeger.js';
import { DASHBOARD_PANELS, deriveRules, fileSdTargets, graphUrl, prometheusConfigYaml, targetsFileName } from './prometheus.js';

const ALERTS_YML = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'deploy/prometheus/alerts.yml');

interface PromConfig {
  global: Record<string, unknown>;
  storage: { exemplars: { max_exemplars: number } };
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; file_sd_configs?: Array<{ files: string[] }> }>;
}

describe('prometheus.yml', () => {
  const text = prometheusConfigYaml({
    port: 9090,
    rule_files: ['/repo/deploy/prometheus/alerts.yml'],
    rules_dir: '/s/conf/rules',
    targets_dir: '/s/conf/targets',
  });
  const config = parse(text) as PromConfig;

  it('scrapes itself and one file_sd job per service, named tidemark-<service> (what TidemarkServiceDown matches)', () => {
    expect(config.scrape_configs[0]).toEqual({ job_name: 'prometheus', static_configs: [{ targets: ['127.0.0.1:9090'] }] });
    const jobs = config.scrape_configs.slice(1);
    expect(jobs.map((j) => j.job_name)).toEqual(SCRAPED_SERVICES.map((s) => `tidemark-${s}`));
    for (const [i, s] of SCRAPED_SERVICES.entries()) expect(jobs[i]!.file_sd_configs![0]!.files).toEqual([`/s/conf/targets/${s}.*.json`]);
    for (const j of jobs) expect(j.job_name).toMatch(/^tidemark-.*/);
  });

  it('loads the repo rules and the extra rules dir, keeps exemplars, evaluates as often as it scrapes', () => {
    expect(config.rule_files).toEqual(['/repo/deploy/prometheus/alerts.yml', '/s/conf/rules/*.yml']);
    expect(config.storage.exemplars.max_exemplars).toBe(PROMETHEUS.max_exemplars);
    expect(config.global.scrape_interval).toBe(`${PROMETHEUS.scrape_interval_s}s`);
    expect(config.global.evaluation_interval).toBe(`${PROMETHEUS.evaluation_interval_s}s`);
    expect(PROMETHEUS.scrape_timeout_s).toBeLessThan(PROMETHEUS.scrape_interval_s);
  });
});

describe('ports', () => {
  it('Prometheus defaults to 9090, which no other component or service default uses', () => {
    expect(resolvePorts({}).prometheus).toBe(9090);
    expect(resolvePorts({ TIDEMARK_PROMETHEUS_PORT: '21090' }).prometheus).toBe(21090);
    const others: number[] = Object.entries(PORT_SPECS)
      .filter(([k]) => k !== 'prometheus')
      .map(([, v]) => v.default_port);
    // The services' defaults (ingress, dedupe, screening, ledger API, fake risk API, simulator statements API).
    others.push(8080, 8082, 8083, 8090, 8099, 8070);
    expect(others).not.toContain(9090);
    expect(() => resolvePorts({ TIDEMARK_PROMETHEUS_PORT: '9092' })).toThrow(/configured twice/);
  });
});

describe('file_sd targets', () => {
  it('lists the addresses with a stack label', () => {
    expect(JSON.parse(fileSdTargets([8090], 'local'))).toEqual([{ targets: ['127.0.0.1:8090'], labels: { stack: 'local' } }]);
    expect(JSON.parse(fileSdTargets([18082, 18092], 'e2e-ab12'))[0].targets).toEqual(['127.0.0.1:18082', '127.0.0.1:18092']);
    expect(targetsFileName('ledger-projector', 'local')).toBe('ledger-projector.local.json');
  });

  it('rejects names that would escape the directory or break the glob, and bad ports', () => {
    expect(() => targetsFileName('ingress', '../x')).toThrow(/stack name/);
    expect(() => fileSdTargets([8080], 'A B')).toThrow(/stack name/);
    expect(() => fileSdTargets([0], 'local')).toThrow(/bad port/);
    expect(() => fileSdTargets([70_000], 'local')).toThrow(/bad port/);
  });
});

describe('rules derived for tests', () => {
  const real = readFileSync(ALERTS_YML, 'utf8');

  it('copies only the named alerts with the new for:, extra labels and unique group names', () => {
    const derived = parse(
      deriveRules(real, { alerts: ['TidemarkConsumerStalled'], for: '5s', group_suffix: '-test-1', labels: { rules: 'test-1' } }),
    ) as {
      groups: Array<{ name: string; rules: Array<Record<string, unknown>> }>;
    };
    const realDoc = parse(real) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    const original = realDoc.groups.flatMap((g) => g.rules).find((r) => r.alert === 'TidemarkConsumerStalled')!;
    expect(derived.groups).toHaveLength(1);
    expect(derived.groups[0]!.name).toMatch(/-test-1$/);
    expect(realDoc.groups.map((g) => g.name)).not.toContain(derived.groups[0]!.name);
    const rule = derived.groups[0]!.rules[0]!;
    expect(rule.expr).toBe(original.expr);
    expect(rule.annotations).toEqual(original.annotations);
    expect(rule.for).toBe('5s');
    expect(rule.labels).toEqual({ ...(original.labels as object), rules: 'test-1' });
    expect(derived.groups.flatMap((g) => g.rules).some((r) => 'record' in r)).toBe(false);
  });

  it('fails on an alert name that does not exist', () => {
    expect(() => deriveRules(real, { alerts: ['NoSuchAlert'], for: '5s', group_suffix: '-t', labels: {} })).toThrow(/NoSuchAlert/);
  });
});

describe('dashboard', () => {
  it('graph URLs carry the expression and range for the classic graph page', () => {
    const url = new URL(graphUrl('http://127.0.0.1:9090', 'sum(rate(x_total[1m]))', '1h'));
    expect(url.pathname).toBe('/graph');
    expect(url.searchParams.get('g0.expr')).toBe('sum(rate(x_total[1m]))');
    expect(url.searchParams.get('g0.range_input')).toBe('1h');
    expect(DASHBOARD_PANELS.length).toBeGreaterThan(3);
  });
});

describe('Jaeger build progress line', () => {
  const base: JaegerBuildProgress = {
    pid: 1,
    phase: 'compiling',
    packages_done: 412,
    packages_total: 1630,
    started_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:01:40.000Z',
    log_file: '/s/logs/jaeger-build.log',
  };
  const at = Date.parse('2026-01-01T00:01:40.000Z');

  it('says what it does, how far, and where the log is', () => {
    expect(describeJaegerBuild(base, at)).toBe('compiling 412/1630 packages (25 %), 1 min 40 s so far; log /s/logs/jaeger-build.log');
    expect(describeJaegerBuild({ ...base, phase: 'downloading' }, at)).toMatch(
      /^downloading the Go module github.com\/jaegertracing\/jaeger@v\d.*log \/s\/logs/,
    );
    expect(describeJaegerBuild({ ...base, phase: 'done' }, at)).toBe('built in 1 min 40 s');
    expect(describeJaegerBuild({ ...base, phase: 'failed', error: 'exit 1' }, at)).toMatch(/build failed after 1 min 40 s: exit 1; log/);
  });

  it('never shows more than 100 % (go build -v may print a few more lines than go list counted)', () => {
    expect(describeJaegerBuild({ ...base, packages_done: 1700 }, at)).toContain('(100 %)');
  });
});
