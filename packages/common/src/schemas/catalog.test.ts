import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { loadCatalog, loadNamedTypes, replicationProfile, resolveSchema } from './catalog.js';
import { plannedTopics } from '../topics.js';
import { canonicalEvent } from '../events.js';

describe('topic catalog and schemas', () => {
  const catalog = loadCatalog();
  const named = loadNamedTypes();

  it('every topic schema resolves to a self-contained, parseable Avro schema', () => {
    for (const t of catalog.topics) {
      const schema = resolveSchema(t.record, named);
      expect(() => avro.Type.forSchema(schema as avro.Schema)).not.toThrow();
    }
  });

  it('documents every field', () => {
    for (const [name, def] of named) {
      if (def.type !== 'record') continue;
      for (const f of def.fields as Array<{ name: string; doc?: string }>) {
        expect(f.doc, `${name}.${f.name} has no doc`).toBeTruthy();
      }
    }
  });

  it('money fields are strings, never floats', () => {
    const floats = JSON.stringify([...named.values()]).match(/"(float|double)"/g);
    expect(floats).toBeNull();
  });

  it('keeps the audit topic for years and never compacts it', () => {
    const audit = catalog.topics.find((t) => t.name === 'audit.v1')!;
    expect(audit.cleanup_policy).toBe('delete');
    expect(audit.retention_ms).toBeGreaterThanOrEqual(5 * 365 * 24 * 3600 * 1000);
  });

  it('plans a retry ladder and a DLQ for every consumer', () => {
    const names = plannedTopics(catalog, 'x.').map((t) => t.name);
    for (const c of catalog.consumers) {
      c.retry_delays_ms.forEach((_, i) => expect(names).toContain(`x.${c.service}.retry.${i + 1}`));
      expect(names).toContain(`x.${c.service}.dlq`);
    }
  });

  it('replicates by cluster size: 1/1 on one broker, 3 with min ISR 2 from three brokers on', () => {
    expect(replicationProfile(catalog, 1)).toMatchObject({ replication_factor: 1, min_insync_replicas: 1 });
    expect(replicationProfile(catalog, 2)).toMatchObject({ replication_factor: 1, min_insync_replicas: 1 });
    expect(replicationProfile(catalog, 3)).toMatchObject({ replication_factor: 3, min_insync_replicas: 2 });
    expect(replicationProfile(catalog, 12)).toMatchObject({ replication_factor: 3, min_insync_replicas: 2 });
    expect(() => replicationProfile(catalog, 0)).toThrow(/no replication profile for a cluster of 0/);
    const bad = { replication: { profiles: [{ name: 'x', brokers_min: 1, replication_factor: 1, min_insync_replicas: 2 }] } };
    expect(() => replicationProfile(bad, 1)).toThrow(/inconsistent/);
  });

  it("every planned topic carries the profile's min.insync.replicas", () => {
    const replicated = replicationProfile(catalog, 3);
    const planned = plannedTopics(catalog, '', replicated);
    expect(planned.length).toBe(catalog.topics.length + catalog.consumers.reduce((n, c) => n + c.retry_delays_ms.length + 1, 0));
    for (const t of planned) expect(t.configs['min.insync.replicas']).toBe('2');
    for (const t of plannedTopics(catalog, '')) expect(t.configs['min.insync.replicas']).toBe('1');
  });

  it('round-trips a canonical event with an 18-decimal amount', () => {
    const type = avro.Type.forSchema(resolveSchema('dev.tidemark.events.v1.CanonicalEvent', named) as avro.Schema);
    const event = canonicalEvent({
      ingress_id: '0192',
      provider: 'generic',
      event_id: 'evt_1',
      event_type: 'deposit.confirmed',
      occurred_at_ms: 1795428000123,
      received_at_ms: 1795428000200,
      partition_key: 'wal_42',
      transaction_id: 'tx_1',
      wallet_id: 'wal_42',
      asset: 'ETH',
      network: 'ethereum',
      amount: '123456789012345678901234567890.123456789012345678',
      confirmations: 3,
      body_sha256: 'ab',
    });
    expect(type.fromBuffer(type.toBuffer(event))).toEqual(event);
  });
});
