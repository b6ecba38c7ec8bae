/**
 * A small client for the Confluent-compatible registry API (Apicurio's
 * /apis/ccompat/v7): registration with an explicit compatibility level and
 * compatibility checks. Encoding/decoding goes through AvroCodec.
 */
export type CompatibilityLevel = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

const REQUEST_TIMEOUT_MS = 10_000;

export class RegistryClient {
  constructor(readonly base_url: string) {}

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${this.base_url.replace(/\/$/, '')}${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, json };
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.request('GET', '/subjects')).status === 200;
    } catch {
      return false;
    }
  }

  async setCompatibility(subject: string, level: CompatibilityLevel): Promise<void> {
    const res = await this.request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility: level });
    if (res.status >= 300)
      throw new RegistryError(`setting compatibility of ${subject} failed: HTTP ${res.status} ${JSON.stringify(res.json)}`);
  }

  /** Registers (idempotently) and returns the schema id. */
  async register(subject: string, schema: object, level: CompatibilityLevel = 'BACKWARD'): Promise<number> {
    const check = await this.checkCompatible(subject, schema);
    if (!check.compatible) {
      throw new RegistryError(`schema for ${subject} is not ${level}-compatible with the registered version: ${check.messages.join('; ')}`);
    }
    const res = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, {
      schema: JSON.stringify(schema),
      schemaType: 'AVRO',
    });
    if (res.status >= 300) throw new RegistryError(`registering ${subject} failed: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    // Set the level after the first version exists (Apicurio keeps per-subject config on the artifact).
    await this.setCompatibility(subject, level);
    return (res.json as { id: number }).id;
  }

  /** True when `schema` may be registered as the next version of `subject` (or the subject is new). */
  async checkCompatible(subject: string, schema: object): Promise<{ compatible: boolean; messages: string[] }> {
    const res = await this.request('POST', `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`, {
      schema: JSON.stringify(schema),
      schemaType: 'AVRO',
    });
    if (res.status === 404) return { compatible: true, messages: [] };
    if (res.status >= 300)
      throw new RegistryError(`compatibility check of ${subject} failed: HTTP ${res.status} ${JSON.stringify(res.json)}`);
    const body = res.json as { is_compatible: boolean; messages?: string[] };
    return { compatible: body.is_compatible, messages: body.messages ?? [] };
  }

  async latest(subject: string): Promise<{ id: number; version: number; schema: string } | null> {
    const res = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (res.status === 404) return null;
    if (res.status >= 300) throw new RegistryError(`reading ${subject} failed: HTTP ${res.status}`);
    return res.json as { id: number; version: number; schema: string };
  }

  async subjects(): Promise<string[]> {
    const res = await this.request('GET', '/subjects');
    if (res.status >= 300) throw new RegistryError(`listing subjects failed: HTTP ${res.status}`);
    return res.json as string[];
  }

  async deleteSubject(subject: string): Promise<void> {
    await this.request('DELETE', `/subjects/${encodeURIComponent(subject)}`);
    await this.request('DELETE', `/subjects/${encodeURIComponent(subject)}?permanent=true`);
  }
}
