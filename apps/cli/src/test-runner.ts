/**
 * `npm test`: the static checks (prettier --check, ESLint), unit tests, then the real
 * infrastructure (started here, idempotently), then integration and end-to-end suites
 * against it. Prints one closing line "tidemark: N passed, N failed" with the totals of
 * every suite (each static check counts as one test of the `static` suite).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { threadpoolEnv } from '@tidemark/common/kafka-confluent';
import { repoRoot } from './paths.js';

interface SuiteResult {
  suite: string;
  passed: number;
  failed: number;
  skipped: number;
  exit_code: number;
  duration_ms: number;
}

function runVitest(suite: string, extraEnv: Record<string, string> = {}): Promise<SuiteResult> {
  const root = repoRoot();
  const outDir = join(root, 'reports', 'tests');
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, `${suite}.json`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${outFile}`],
      { cwd: root, stdio: 'inherit', env: threadpoolEnv({ ...process.env, ...extraEnv, TIDEMARK_SUITE: suite }) },
    );
    child.on('exit', (code) => {
      let passed = 0;
      let failed = 0;
      let skipped = 0;
      if (existsSync(outFile)) {
        try {
          const report = JSON.parse(readFileSync(outFile, 'utf8')) as {
            numPassedTests: number;
            numFailedTests: number;
            numPendingTests: number;
            numTodoTests: number;
            numFailedTestSuites: number;
          };
          passed = report.numPassedTests;
          failed = report.numFailedTests + (report.numFailedTestSuites > 0 && report.numFailedTests === 0 ? report.numFailedTestSuites : 0);
          skipped = report.numPendingTests + report.numTodoTests;
        } catch {
          /* fall through to exit code */
        }
      }
      if ((code ?? 1) !== 0 && failed === 0) failed = 1;
      resolve({ suite, passed, failed, skipped, exit_code: code ?? 1, duration_ms: Date.now() - started });
    });
  });
}

/** What the static suite runs, from the repository root (the same files the workspaces' `lint` scripts cover, plus test/), and every workspace's typecheck. */
export const STATIC_CHECKS: ReadonlyArray<{ name: string; args: string[] }> = [
  { name: 'prettier --check', args: ['node_modules/prettier/bin/prettier.cjs', '--check', '--log-level', 'warn', '.'] },
  {
    name: 'eslint',
    args: ['node_modules/eslint/bin/eslint.js', '--max-warnings', '0', 'apps', 'packages', 'services', 'deploy/local', 'test'],
  },
  // Every workspace's `tsc` (tests and benches included where the workspace's tsconfig covers them).
  { name: 'typecheck', args: ['node_modules/turbo/bin/turbo', 'run', 'typecheck', '--output-logs=errors-only'] },
];

/** Runs each static check (output streamed as is); one passed or failed test per check. */
export async function runStatic(): Promise<SuiteResult> {
  const root = repoRoot();
  const started = Date.now();
  let passed = 0;
  let failed = 0;
  for (const check of STATIC_CHECKS) {
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, check.args, { cwd: root, stdio: 'inherit' });
      child.on('error', () => resolve(1));
      child.on('exit', (c) => resolve(c ?? 1));
    });
    console.log(`static: ${check.name} ${code === 0 ? 'clean' : `found problems (exit ${code})`}`);
    if (code === 0) passed++;
    else failed++;
  }
  return { suite: 'static', passed, failed, skipped: 0, exit_code: failed > 0 ? 1 : 0, duration_ms: Date.now() - started };
}

export async function runTests(opts: { chaos?: boolean; unit?: boolean }): Promise<number> {
  const results: SuiteResult[] = [];
  const suites = opts.chaos ? ['chaos'] : opts.unit ? ['unit'] : ['unit', 'integration', 'e2e'];
  if (!opts.chaos) {
    console.log('=== static checks ===');
    results.push(await runStatic());
  }
  if (!opts.unit) {
    const { infraUp } = await import('@tidemark/local-infra');
    const t0 = Date.now();
    console.log('tidemark test: starting the local infrastructure (cached after the first run)...');
    try {
      await infraUp({ log: (line: string) => console.log(`  ${line}`) });
    } catch (err) {
      console.error(`tidemark test: infrastructure failed to start: ${(err as Error).message}`);
      console.log('tidemark: 0 passed, 1 failed');
      return 1;
    }
    console.log(`tidemark test: infrastructure ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  for (const suite of suites) {
    console.log(`\n=== ${suite} tests ===`);
    results.push(await runVitest(suite));
  }
  console.log('\n=== summary ===');
  for (const r of results) {
    console.log(
      `${r.suite.padEnd(12)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped (${(r.duration_ms / 1000).toFixed(1)} s)`,
    );
  }
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failed = results.reduce((a, r) => a + r.failed, 0);
  const skipped = results.reduce((a, r) => a + r.skipped, 0);
  console.log(`tidemark: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed > 0 || results.some((r) => r.exit_code !== 0) ? 1 : 0;
}
