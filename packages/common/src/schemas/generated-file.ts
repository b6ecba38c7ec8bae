/** Generated files checked into the repository (record types, the AsyncAPI document): write them, or check they are current. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `content` to `path`, or with `check` only compares them: true when written or up to date,
 * false (saying `messages.stale` on stderr) when the file on disk differs or is missing.
 */
export function writeOrCheckGenerated(
  path: string,
  content: string,
  check: boolean,
  messages: { stale: string; up_to_date: string },
): boolean {
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {
      /* missing */
    }
    if (current !== content) {
      console.error(messages.stale);
      return false;
    }
    console.log(messages.up_to_date);
    return true;
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  console.log(`wrote ${path}`);
  return true;
}
