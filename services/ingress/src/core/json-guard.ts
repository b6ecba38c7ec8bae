/**
 * Cheap, allocation-free checks on a raw body before JSON.parse: valid UTF-8 and a
 * bounded nesting depth. The depth scan is a single loop over the bytes (no recursion),
 * so a body of 200k `[` costs one pass and can never blow the stack.
 */
import { isUtf8 } from 'node:buffer';

export const JSON_DEPTH_MAX_DEFAULT = 32;

export type JsonGuardFailure = { reason: 'invalid_utf8' | 'invalid_json' | 'json_too_deep'; message: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;
const CLOSE_OBJECT = 0x7d;
const CLOSE_ARRAY = 0x5d;

/** Maximum nesting depth of objects/arrays in `body`, stopping early once `depth_max` is exceeded. */
export function jsonDepthExceeds(body: Uint8Array, depth_max: number): boolean {
  let depth = 0;
  let in_string = false;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (in_string) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) in_string = false;
      continue;
    }
    if (byte === QUOTE) in_string = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      depth++;
      if (depth > depth_max) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) depth--;
  }
  return false;
}

/** Parses a raw body as JSON under the guards; returns the value or the failure. */
export function parseJsonBody(
  body: Buffer,
  depth_max: number = JSON_DEPTH_MAX_DEFAULT,
): { ok: true; value: unknown } | ({ ok: false } & JsonGuardFailure) {
  if (!isUtf8(body)) return { ok: false, reason: 'invalid_utf8', message: 'body is not valid UTF-8' };
  if (jsonDepthExceeds(body, depth_max)) {
    return { ok: false, reason: 'json_too_deep', message: `JSON nesting deeper than ${depth_max}` };
  }
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch {
    return { ok: false, reason: 'invalid_json', message: 'body is not valid JSON' };
  }
}
