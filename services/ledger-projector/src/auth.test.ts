import { describe, expect, it } from 'vitest';
import { TokenConfigError, authenticate, bearerToken, generateApiTokens, hasRole, parseApiTokens } from './auth.js';

const SPEC = 'alice:reader-token-aaaaaaaaaaaa:reader,carol:compliance-token-cccccccc:compliance';

describe('api tokens', () => {
  it('parses name:token:role entries and authenticates by token', () => {
    const tokens = parseApiTokens(SPEC);
    expect(tokens.map((t) => [t.name, t.role])).toEqual([
      ['alice', 'reader'],
      ['carol', 'compliance'],
    ]);
    expect(authenticate(tokens, 'reader-token-aaaaaaaaaaaa')?.name).toBe('alice');
    expect(authenticate(tokens, 'compliance-token-cccccccc')?.name).toBe('carol');
    expect(authenticate(tokens, 'reader-token-aaaaaaaaaaab')).toBeNull();
    expect(authenticate(tokens, '')).toBeNull();
    expect(authenticate([], 'reader-token-aaaaaaaaaaaa')).toBeNull();
  });

  it('compliance may read, reader may not release', () => {
    const [alice, carol] = parseApiTokens(SPEC);
    expect(hasRole(alice!, 'reader')).toBe(true);
    expect(hasRole(alice!, 'compliance')).toBe(false);
    expect(hasRole(carol!, 'reader')).toBe(true);
    expect(hasRole(carol!, 'compliance')).toBe(true);
  });

  it('operator may read and operate, but not release; compliance may not operate', () => {
    const [, carol, olga] = parseApiTokens(`${SPEC},olga:operator-token-oooooooo:operator`);
    expect(olga!.role).toBe('operator');
    expect(hasRole(olga!, 'reader')).toBe(true);
    expect(hasRole(olga!, 'operator')).toBe(true);
    expect(hasRole(olga!, 'compliance')).toBe(false);
    expect(hasRole(carol!, 'operator')).toBe(false);
  });

  it('rejects bad specs without echoing the token', () => {
    const bad = [
      'alice:short:reader',
      'alice:reader-token-aaaaaaaaaaaa:admin',
      'alice:reader-token-aaaaaaaaaaaa',
      'a l:reader-token-aaaaaaaaaaaa:reader',
      `${SPEC},dup:reader-token-aaaaaaaaaaaa:reader`,
    ];
    for (const spec of bad) {
      let message = '';
      try {
        parseApiTokens(spec);
      } catch (err) {
        expect(err).toBeInstanceOf(TokenConfigError);
        message = (err as Error).message;
      }
      expect(message, spec).not.toBe('');
      expect(message).not.toContain('reader-token-aaaaaaaaaaaa');
    }
  });

  it('generates one random token per role', () => {
    const a = generateApiTokens();
    const b = generateApiTokens();
    expect(parseApiTokens(a.spec).map((t) => t.role)).toEqual(['reader', 'compliance', 'operator']);
    expect(a.tokens[0]!.token).not.toBe(b.tokens[0]!.token);
  });

  it('extracts bearer tokens only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken(undefined)).toBeNull();
  });
});
