import { defineConfig } from 'vitest/config';

/**
 * One config for the whole repo. Suites:
 *  - unit:        `*.test.ts` beside the code (no infrastructure)
 *  - integration: `*.int.test.ts` (real Kafka, registry, Postgres)
 *  - e2e:         `test/e2e/*.e2e.test.ts` (all services + simulator)
 *  - chaos:       `test/chaos/*.chaos.test.ts` (long; `npm run test:chaos`)
 * Select with TIDEMARK_SUITE (default unit).
 */
const suite = process.env.TIDEMARK_SUITE ?? 'unit';
const ignored = ['**/node_modules/**', '**/dist/**', '**/.tidemark/**'];
const include: Record<string, string[]> = {
  unit: [
    'apps/*/src/**/*.test.ts',
    'packages/*/src/**/*.test.ts',
    'services/*/src/**/*.test.ts',
    'deploy/local/src/**/*.test.ts',
    'test/simulator/**/*.test.ts',
    'test/bench/**/*.test.ts',
    'test/architecture/**/*.test.ts',
  ],
  integration: ['**/*.int.test.ts'],
  e2e: ['test/e2e/**/*.e2e.test.ts'],
  chaos: ['test/chaos/**/*.chaos.test.ts'],
};
const exclude: Record<string, string[]> = {
  unit: ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/*.chaos.test.ts'],
  integration: [],
  e2e: [],
  chaos: [],
};

export default defineConfig({
  test: {
    include: include[suite] ?? include.unit,
    exclude: [...ignored, ...(exclude[suite] ?? [])],
    // Infrastructure suites share one broker and database server on a 2-core machine: one file at a time.
    fileParallelism: suite === 'unit',
    testTimeout: suite === 'unit' ? 30_000 : 300_000,
    hookTimeout: suite === 'unit' ? 30_000 : 300_000,
    reporters: ['default'],
    // Infrastructure suites reach the local broker as its admin principal (SASL_SSL) unless told otherwise.
    setupFiles: suite === 'unit' ? [] : ['test/harness/kafka-env.ts'],
  },
});
