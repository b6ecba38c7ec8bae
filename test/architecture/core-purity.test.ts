/**
 * Pure cores stay pure: loading every domain core (every non-test module under a `core/`
 * folder) loads no infrastructure client — no kafkajs, pg, express, OpenTelemetry,
 * Prometheus client or logger — and the ESLint rule that guards it (eslint.config.js,
 * CORE_FORBIDDEN_IMPORTS) rejects such an import. The positive controls show the
 * recorder and the rule do see infrastructure when it is there.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HOOK = fileURLToPath(new URL('./record-loads.mjs', import.meta.url));
const INFRASTRUCTURE = [
  /\/node_modules\/(kafkajs|pg|pg-pool|express|prom-client|pino|undici|node-pg-migrate|opossum)\//,
  /\/node_modules\/@(opentelemetry|confluentinc|kafkajs|platformatic)\//,
  /^node:(http|https|http2|net|tls|child_process)$/,
];
const scratch = mkdtempSync(join(tmpdir(), 'tidemark-core-purity-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function coreModules(dir: string, inCore = false, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) coreModules(path, inCore || name === 'core', out);
    else if (inCore && name.endsWith('.ts') && !name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** Imports the modules in a fresh node (with tsx) and returns every module it loaded. */
function loadedBy(specifiers: string[]): string[] {
  const record = join(scratch, `loads-${Math.random().toString(36).slice(2)}.txt`);
  const program = `for (const s of ${JSON.stringify(specifiers)}) await import(s);`;
  execFileSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(HOOK).href, '--input-type=module', '-e', program], {
    cwd: ROOT,
    env: { ...process.env, TIDEMARK_RECORD_LOADS: record },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return readFileSync(record, 'utf8').split('\n').filter(Boolean);
}

const infrastructureIn = (loads: string[]) => [...new Set(loads.filter((l) => INFRASTRUCTURE.some((re) => re.test(l))))];

describe('pure cores', () => {
  const cores = [
    ...coreModules(join(ROOT, 'packages')),
    ...coreModules(join(ROOT, 'services')),
    ...coreModules(join(ROOT, 'test/simulator')),
  ];

  it('finds the cores of every service and of the stream runtime', () => {
    const folders = new Set(cores.map((c) => relative(ROOT, c).split('/').slice(0, 2).join('/')));
    for (const f of [
      'packages/stream',
      'services/ingress',
      'services/dedupe',
      'services/compliance-screening',
      'services/ledger-projector',
      'services/reconciler',
    ]) {
      expect(folders).toContain(f);
    }
  });

  it('load no infrastructure client (kafkajs, pg, express, OpenTelemetry, …)', () => {
    const loads = loadedBy(cores.map((c) => pathToFileURL(c).href));
    expect(loads.length).toBeGreaterThan(cores.length);
    expect(infrastructureIn(loads)).toEqual([]);
  }, 60_000);

  it('the pure subpaths of @tidemark/common load nothing of the infrastructure', () => {
    expect(
      infrastructureIn(
        loadedBy(['@tidemark/common/money', '@tidemark/common/events', '@tidemark/common/records', '@tidemark/stream/handler']),
      ),
    ).toEqual([]);
  }, 60_000);

  it('control: the root entry of @tidemark/common does load kafkajs, pg, express and OpenTelemetry', () => {
    const seen = infrastructureIn(loadedBy(['@tidemark/common'])).join('\n');
    for (const pkg of ['/kafkajs/', '/pg/', '/express/', '/@opentelemetry/']) expect(seen).toContain(pkg);
  }, 60_000);
});

describe('the ESLint rule that keeps cores pure', () => {
  const eslint = new ESLint({ cwd: ROOT });
  const source = [
    "import { Kafka } from 'kafkajs';",
    "import { toBaseUnits } from '@tidemark/common';",
    "import { createServer } from 'node:http';",
    "import { trace } from '@opentelemetry/api';",
    "import { Pool } from 'pg';",
    "import { Decimal } from '@tidemark/common/money';",
    'export const used = [Kafka, toBaseUnits, createServer, trace, Pool, Decimal];',
  ].join('\n');

  it('rejects every infrastructure import in a core, and only those', async () => {
    const [result] = await eslint.lintText(source, { filePath: join(ROOT, 'services/ledger-projector/src/core/example.ts') });
    const lines = result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.line);
    expect(lines).toEqual([1, 2, 3, 4, 5]);
  });

  it('allows them in an adapter', async () => {
    const [result] = await eslint.lintText(source, { filePath: join(ROOT, 'services/ledger-projector/src/db/example.ts') });
    expect(result!.messages.filter((m) => m.ruleId === 'no-restricted-imports')).toEqual([]);
  });
});
