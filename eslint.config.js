// Flat ESLint config for every workspace (typescript-eslint recommended + a few Tidemark rules).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What a file under any `core/` folder may not import (see docs/architecture.md). */
export const CORE_FORBIDDEN_IMPORTS = [
  {
    regex: '^@tidemark/(?!(common/(money|events|records)|stream/handler)$)',
    message: 'a core imports only the pure subpaths @tidemark/common/money, /events, /records and @tidemark/stream/handler',
  },
  {
    regex: '^(kafkajs|pg|pg-[a-z-]+|express|prom-client|pino|undici|node-pg-migrate|opossum|avsc)(/.*)?$',
    message: 'infrastructure client in a pure core: move it to an adapter',
  },
  { regex: '^@(opentelemetry|confluentinc|kafkajs|platformatic)/', message: 'infrastructure client in a pure core: move it to an adapter' },
  {
    regex: '^(node:)?(http|https|http2|net|tls|dgram|dns|fs|fs/promises|child_process|cluster|worker_threads)$',
    message: 'I/O in a pure core: move it to an adapter',
  },
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.tidemark/**', '**/generated/**', 'reports/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        URL: 'readonly',
        fetch: 'readonly',
        AbortSignal: 'readonly',
        AbortController: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Size limits for production code: a file a newcomer reads in one sitting, functions
    // that do one thing. Tests, test support, benchmarks and generated code are exempt.
    files: ['**/*.ts'],
    ignores: ['**/*.test.ts', '**/testing/**', '**/test-support/**', 'test/**', '**/bench/**'],
    rules: {
      'max-lines': ['error', { max: 500, skipBlankLines: true, skipComments: true }],
      'max-lines-per-function': ['error', { max: 100, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  {
    // Domain cores are pure: no I/O, no infrastructure client, nothing that starts a
    // tracer or a server when loaded. Only the pure subpaths of the shared packages.
    // docs/architecture.md explains the layering; core-purity.test.ts proves it at run time.
    files: ['**/core/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: CORE_FORBIDDEN_IMPORTS }],
    },
  },
);
