import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkSchemaHistory } from '@tidemark/common';
import { writeAsyncApi } from './asyncapi.js';

/** Exit code: 0 compatible and up to date, 1 otherwise. */
export async function schemasCheck(): Promise<number> {
  let failed = false;
  const { checked, problems } = checkSchemaHistory();
  for (const p of problems) console.error(`INCOMPATIBLE ${p.record} vs ${p.against}: ${p.message}`);
  if (problems.length > 0) failed = true;
  else console.log(`schemas are BACKWARD-compatible with their git history (${checked} checks)`);
  const codegen = fileURLToPath(new URL('../../../packages/common/src/schemas/codegen.ts', import.meta.url));
  try {
    execFileSync(process.execPath, ['--import', 'tsx', codegen, '--check'], { stdio: 'inherit' });
  } catch {
    failed = true;
  }
  if (!writeAsyncApi(true)) failed = true;
  return failed ? 1 : 0;
}
