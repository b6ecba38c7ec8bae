// Module-loading hook for core-purity.test.ts: records every resolved module URL (ESM
// resolution, including CommonJS packages imported from ESM) in the file named by
// TIDEMARK_RECORD_LOADS, and every CommonJS module in require.cache at exit.
import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';

const out = process.env.TIDEMARK_RECORD_LOADS;
if (!out) throw new Error('record-loads.mjs needs TIDEMARK_RECORD_LOADS (a file to append resolved URLs to)');
register(
  'data:text/javascript,' +
    encodeURIComponent(`
      import { appendFileSync } from 'node:fs';
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        appendFileSync(${JSON.stringify(out)}, result.url + '\\n');
        return result;
      }`),
);
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(out, Object.keys(require.cache).join('\n') + '\n'));
