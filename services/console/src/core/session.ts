/**
 * Console sessions: a random 256-bit id (the HttpOnly, SameSite=Strict cookie) maps to
 * the signed-in token's name and role, a per-session CSRF token and the bearer token
 * itself (kept only in this process's memory, to call the ledger API as that user).
 * Bounded: sessions expire after an idle TTL and an absolute lifetime, and the store
 * holds at most `sessions_max` (the oldest is evicted first).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type Role = 'reader' | 'compliance' | 'operator';

export interface Session {
  id: string;
  name: string;
  role: Role;
  /** The bearer token the user signed in with (never logged, never sent to the browser). */
  token: string;
  csrf: string;
  created_ms: number;
  seen_ms: number;
}

export interface SessionLimits {
  idle_ttl_ms: number;
  lifetime_ms: number;
  sessions_max: number;
}

export const SESSION_DEFAULTS: SessionLimits = { idle_ttl_ms: 30 * 60_000, lifetime_ms: 8 * 3600_000, sessions_max: 1_000 };

/** What each role may do in the console (every role may read). */
export const ROLE_ACTIONS = {
  read: ['reader', 'compliance', 'operator'],
  compliance: ['compliance'],
  operate: ['operator'],
} as const satisfies Record<string, readonly Role[]>;

export type ConsoleAction = keyof typeof ROLE_ACTIONS;

export function may(role: Role, action: ConsoleAction): boolean {
  return (ROLE_ACTIONS[action] as readonly Role[]).includes(role);
}

/** Constant-time comparison of two strings of any length (digests compared). */
export function safeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits = SESSION_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {}

  create(user: { name: string; role: Role; token: string }): Session {
    this.sweep();
    while (this.sessions.size >= this.limits.sessions_max) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    const now_ms = this.now();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      ...user,
      csrf: randomBytes(32).toString('base64url'),
      created_ms: now_ms,
      seen_ms: now_ms,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The live session of `id` (its idle timer refreshed), or null. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const session = this.sessions.get(id);
    if (!session) return null;
    const now_ms = this.now();
    if (now_ms - session.seen_ms > this.limits.idle_ttl_ms || now_ms - session.created_ms > this.limits.lifetime_ms) {
      this.sessions.delete(id);
      return null;
    }
    session.seen_ms = now_ms;
    return session;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const now_ms = this.now();
    for (const [id, s] of this.sessions) {
      if (now_ms - s.seen_ms > this.limits.idle_ttl_ms || now_ms - s.created_ms > this.limits.lifetime_ms) this.sessions.delete(id);
    }
  }
}
