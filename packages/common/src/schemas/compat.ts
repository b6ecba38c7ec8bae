/**
 * Offline BACKWARD-compatibility check of the repo's schemas against every version
 * of them in git history: a consumer using the new schema must be able to read
 * records written with any earlier one. `npm run schemas:check` fails otherwise;
 * `topics apply` additionally asks the live registry.
 */
import { execFileSync } from 'node:child_process';
import { relative } from 'node:path';
import avro from 'avsc';
import { loadCatalog, resolveSchema, loadNamedTypes, schemasDir } from './catalog.js';

export interface CompatProblem {
  record: string;
  against: string;
  message: string;
}

/** Null when `next` (reader) can read data written with `previous` (writer). */
export function backwardProblem(next: object, previous: object): string | null {
  try {
    const reader = avro.Type.forSchema(next as avro.Schema);
    const writer = avro.Type.forSchema(previous as avro.Schema);
    reader.createResolver(writer);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function gitLines(args: string[], cwd: string): string[] {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Named types as they were at `commit` (null if the schemas folder did not exist). */
function namedTypesAt(commit: string, dir: string): Map<string, Record<string, unknown>> | null {
  const repoRoot = gitLines(['rev-parse', '--show-toplevel'], dir)[0];
  if (!repoRoot) return null;
  const avroRel = relative(repoRoot, `${dir}/avro`);
  const files = gitLines(['ls-tree', '--name-only', `${commit}:${avroRel}`], repoRoot).filter((f) => f.endsWith('.avsc'));
  if (files.length === 0) return null;
  const named = new Map<string, Record<string, unknown>>();
  const tmp = new Map<string, Record<string, unknown>>();
  for (const f of files) {
    const text = execFileSync('git', ['show', `${commit}:${avroRel}/${f}`], { cwd: repoRoot, encoding: 'utf8' });
    const schema = JSON.parse(text) as Record<string, unknown>;
    // Reuse the loader's logic by collecting through a fake directory is overkill; collect inline.
    collect(schema, String(schema.namespace ?? ''), tmp);
  }
  for (const [k, v] of tmp) named.set(k, v);
  return named;
}

function collect(node: unknown, ns: string, out: Map<string, Record<string, unknown>>): void {
  if (Array.isArray(node)) return node.forEach((n) => collect(n, ns, out));
  if (typeof node !== 'object' || node === null) return;
  const n = node as Record<string, unknown>;
  const space = typeof n.namespace === 'string' ? n.namespace : ns;
  if ((n.type === 'record' || n.type === 'enum' || n.type === 'fixed') && typeof n.name === 'string') {
    const full = n.name.includes('.') ? n.name : space ? `${space}.${n.name}` : n.name;
    out.set(full, { ...n, namespace: space, name: n.name.split('.').pop() });
  }
  if (n.type === 'record' && Array.isArray(n.fields))
    (n.fields as Array<Record<string, unknown>>).forEach((f) => collect(f.type, space, out));
  else if (n.type === 'array') collect(n.items, space, out);
  else if (n.type === 'map') collect(n.values, space, out);
  else if (typeof n.type === 'object') collect(n.type, space, out);
}

/** Checks every topic record schema against all its committed versions. */
export function checkSchemaHistory(dir = schemasDir()): { checked: number; problems: CompatProblem[] } {
  const current = loadNamedTypes(dir);
  const records = new Set(loadCatalog(dir).topics.map((t) => t.record));
  records.add('dev.tidemark.stream.v1.DeadLetter');
  const commits = gitLines(['log', '--format=%H', '--', `${dir}/avro`], dir);
  const problems: CompatProblem[] = [];
  let checked = 0;
  for (const commit of commits) {
    const old = namedTypesAt(commit, dir);
    if (!old) continue;
    for (const record of records) {
      if (!old.has(record)) continue;
      const problem = backwardProblem(resolveSchema(record, current), resolveSchema(record, old));
      checked++;
      if (problem) problems.push({ record, against: commit.slice(0, 12), message: problem });
    }
  }
  return { checked, problems };
}
