/**
 * Bearer tokens of the read API: TIDEMARK_API_TOKENS = "name:token:role,..." with roles
 * `reader`, `compliance` (releases, escalations, notes) and `operator` (dead letters and
 * reconciliation in the ops console); every role may read. Tokens are compared in constant
 * time (SHA-256 digests compared with timingSafeEqual, every configured token checked).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_ROLES = ['reader', 'compliance', 'operator'] as const;
export type ApiRole = (typeof API_ROLES)[number];
export const API_TOKENS_MAX = 100;
export const API_TOKEN_LENGTH_MIN = 16;
export const API_TOKEN_LENGTH_MAX = 512;

export interface ApiToken {
  name: string;
  role: ApiRole;
  digest: Buffer;
}

export class TokenConfigError extends Error {
  override readonly name = 'TokenConfigError';
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Parses the token list; errors name the entry (by position and name), never the token. */
export function parseApiTokens(spec: string): ApiToken[] {
  const entries = spec
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (entries.length > API_TOKENS_MAX) throw new TokenConfigError(`TIDEMARK_API_TOKENS: more than ${API_TOKENS_MAX} tokens`);
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const parts = entry.split(':');
    if (parts.length !== 3) throw new TokenConfigError(`TIDEMARK_API_TOKENS entry ${i + 1}: expected name:token:role`);
    const [name, token, role] = parts as [string, string, string];
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name))
      throw new TokenConfigError(`TIDEMARK_API_TOKENS entry ${i + 1}: name must be 1-64 of [A-Za-z0-9._-]`);
    if (token.length < API_TOKEN_LENGTH_MIN || token.length > API_TOKEN_LENGTH_MAX) {
      throw new TokenConfigError(
        `TIDEMARK_API_TOKENS entry ${i + 1} (${name}): token must be ${API_TOKEN_LENGTH_MIN}-${API_TOKEN_LENGTH_MAX} characters`,
      );
    }
    if (!(API_ROLES as readonly string[]).includes(role))
      throw new TokenConfigError(`TIDEMARK_API_TOKENS entry ${i + 1} (${name}): role must be one of ${API_ROLES.join(', ')}`);
    const d = digest(token);
    const hex = d.toString('hex');
    if (seen.has(hex)) throw new TokenConfigError(`TIDEMARK_API_TOKENS entry ${i + 1} (${name}): duplicate token`);
    seen.add(hex);
    return { name, role: role as ApiRole, digest: d };
  });
}

/** Random tokens, one per role, for a start without configured tokens. */
export function generateApiTokens(): { spec: string; tokens: Array<{ name: string; token: string; role: ApiRole }> } {
  const tokens = API_ROLES.map((role) => ({ name: `generated-${role}`, token: randomBytes(24).toString('base64url'), role }));
  return { spec: tokens.map((t) => `${t.name}:${t.token}:${t.role}`).join(','), tokens };
}

/** The token matching `presented`, or null. Checks every token (no early exit). */
export function authenticate(tokens: readonly ApiToken[], presented: string): ApiToken | null {
  const d = digest(presented);
  let match: ApiToken | null = null;
  for (const t of tokens) {
    if (timingSafeEqual(t.digest, d) && match === null) match = t;
  }
  return match;
}

export function hasRole(token: ApiToken, needed: ApiRole): boolean {
  return needed === 'reader' ? true : token.role === needed;
}

/** Extracts the token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S{1,1024})\s*$/i.exec(header);
  return match?.[1] ?? null;
}
