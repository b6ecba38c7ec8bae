/**
 * Provider profiles as data (config/providers.json): id, signature scheme, where the
 * secrets come from (an environment variable and/or a file; never the JSON itself),
 * timestamp tolerance, IP allowlist, trusted proxies, body limit and payload mapper.
 * Parsing and secret resolution are pure: the caller passes env and a file reader.
 */
import { z } from 'zod';
import { parseCidr, type Cidr } from './ip.js';
import { MAPPERS, type Mapper } from './mappers/index.js';
import { createHexHmac, createStripeStyle, standardWebhooks, type SignatureVerifier } from './signature/index.js';

export const BODY_LIMIT_BYTES_DEFAULT = 256 * 1024;
export const BODY_LIMIT_BYTES_MAX = 8 * 1024 * 1024;
export const TOLERANCE_S_DEFAULT = 300;
export const SECRETS_PER_PROVIDER_MAX = 8;

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name');

const scheme = z.discriminatedUnion('type', [
  z.object({ type: z.literal('standard-webhooks') }),
  z.object({ type: z.literal('stripe-style'), signature_header: headerName }),
  z.object({ type: z.literal('hex-hmac'), signature_header: headerName, timestamp_header: headerName }),
]);

const cidr = z.string().transform((text, ctx) => {
  try {
    return parseCidr(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const profileSchema = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and "-"'),
  description: z.string().max(500).optional(),
  scheme,
  secrets_env: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]*$/, 'must be an environment variable name')
    .optional(),
  secrets_file: z.string().min(1).optional(),
  tolerance_s: z.number().int().min(1).max(86_400).default(TOLERANCE_S_DEFAULT),
  ip_allowlist: z.array(cidr).max(256).default([]),
  trusted_proxies: z.array(cidr).max(64).default([]),
  body_limit_bytes: z.number().int().min(1024).max(BODY_LIMIT_BYTES_MAX).default(BODY_LIMIT_BYTES_DEFAULT),
  mapper: z.string().refine((id) => id in MAPPERS, { message: `must be one of: ${Object.keys(MAPPERS).join(', ')}` }),
});

export const profilesFileSchema = z.object({
  $comment: z.string().optional(),
  providers: z.array(profileSchema).min(1).max(64),
});

export type ProfileSpec = z.infer<typeof profileSchema>;

/** A profile ready to verify requests: decoded keys, parsed ranges, resolved mapper. */
export interface Provider {
  id: string;
  verifier: SignatureVerifier;
  /** Decoded HMAC keys, in the configured order (rotation: any matches). */
  keys: Buffer[];
  /** Raw secret strings, kept only so they can be registered for log scrubbing. */
  secrets: string[];
  tolerance_s: number;
  ip_allowlist: Cidr[];
  trusted_proxies: Cidr[];
  body_limit_bytes: number;
  mapper: Mapper;
}

export function verifierFor(spec: ProfileSpec['scheme']): SignatureVerifier {
  switch (spec.type) {
    case 'standard-webhooks':
      return standardWebhooks;
    case 'stripe-style':
      return createStripeStyle(spec.signature_header);
    case 'hex-hmac':
      return createHexHmac(spec.signature_header, spec.timestamp_header);
  }
}

/** Splits a secrets list: comma- or newline-separated, blanks and `#` comment lines ignored. */
export function splitSecrets(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !s.startsWith('#'));
}

export class ProfileError extends Error {
  override readonly name = 'ProfileError';
}

export interface ResolveDeps {
  env: Readonly<Record<string, string | undefined>>;
  readFile: (path: string) => string;
}

/** Resolves a profile's secrets and builds its verifier. Errors name the profile and source, never a value. */
export function resolveProvider(spec: ProfileSpec, deps: ResolveDeps): Provider {
  const verifier = verifierFor(spec.scheme);
  const secrets: string[] = [];
  if (spec.secrets_env !== undefined) {
    const raw = deps.env[spec.secrets_env];
    if (raw !== undefined) secrets.push(...splitSecrets(raw));
  }
  if (spec.secrets_file !== undefined) {
    let text: string;
    try {
      text = deps.readFile(spec.secrets_file);
    } catch (error) {
      throw new ProfileError(
        `provider ${spec.id}: cannot read secrets_file ${spec.secrets_file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    secrets.push(...splitSecrets(text));
  }
  if (secrets.length > SECRETS_PER_PROVIDER_MAX) {
    throw new ProfileError(`provider ${spec.id}: more than ${SECRETS_PER_PROVIDER_MAX} secrets configured`);
  }
  const keys = secrets.map((secret, index) => {
    try {
      return verifier.decodeSecret(secret);
    } catch (error) {
      const source = spec.secrets_env ?? spec.secrets_file;
      throw new ProfileError(`provider ${spec.id}: secret #${index + 1} from ${source} is invalid: ${(error as Error).message}`);
    }
  });
  return {
    id: spec.id,
    verifier,
    keys,
    secrets,
    tolerance_s: spec.tolerance_s,
    ip_allowlist: spec.ip_allowlist,
    trusted_proxies: spec.trusted_proxies,
    body_limit_bytes: spec.body_limit_bytes,
    mapper: MAPPERS[spec.mapper]!,
  };
}

/** Parses providers.json text; throws ProfileError naming the bad path. */
export function parseProfiles(json_text: string): ProfileSpec[] {
  let value: unknown;
  try {
    value = JSON.parse(json_text);
  } catch (error) {
    throw new ProfileError(`providers file is not JSON: ${(error as Error).message}`);
  }
  const parsed = profilesFileSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ProfileError(`providers file is invalid: ${problems}`);
  }
  const ids = new Set<string>();
  for (const p of parsed.data.providers) {
    if (ids.has(p.id)) throw new ProfileError(`providers file is invalid: duplicate provider id ${p.id}`);
    ids.add(p.id);
  }
  return parsed.data.providers;
}
