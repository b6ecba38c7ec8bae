import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { catalogAcls, servicePrincipals, teamAcls, teamPrincipal, toAclEntry, type AclBinding } from './acls.js';
import { loadCatalog, type Catalog } from './schemas/catalog.js';

const catalog = loadCatalog();
const show = (b: AclBinding) => `${b.operation} ${b.resource}${b.pattern === 'prefixed' ? '*' : ''} ${b.name}`;
const of = (acls: AclBinding[], service: string) =>
  acls
    .filter((a) => a.principal === `tidemark-${service}`)
    .map(show)
    .sort();

describe('catalogAcls (ACLs derived from schemas/topics.json)', () => {
  const acls = catalogAcls(catalog);

  it('gives ingress write on webhooks.received.v1 and audit.v1, nothing else', () => {
    expect(of(acls, 'ingress')).toEqual(['write topic audit.v1', 'write topic webhooks.received.v1']);
  });

  it('gives dedupe its input, output, group, ladder, DLQ and transactional ids, nothing else', () => {
    expect(of(acls, 'dedupe')).toEqual(
      [
        'read topic webhooks.received.v1',
        'write topic events.unique.v1',
        'write topic audit.v1',
        'read group dedupe',
        ...[1, 2, 3].flatMap((n) => [`read topic dedupe.retry.${n}`, `write topic dedupe.retry.${n}`]),
        'read topic dedupe.dlq',
        'write topic dedupe.dlq',
        'write transactional_id* dedupe-',
      ].sort(),
    );
  });

  it('gives the screening and ledger consumers only their own ladders and their outputs', () => {
    const screening = of(acls, 'compliance-screening');
    expect(screening).toContain('read topic events.unique.v1');
    expect(screening).toContain('write topic events.screened.v1');
    expect(screening).toContain('write topic compliance.alerts.v1');
    expect(screening).toContain('write topic compliance-screening.retry.4');
    expect(screening.filter((a) => a.includes('dedupe') || a.includes('ledger'))).toEqual([]);
    const ledger = of(acls, 'ledger-projector');
    expect(ledger).toContain('read topic events.screened.v1');
    expect(ledger).toContain('write topic ledger.balances.v1');
    expect(ledger).not.toContain('write topic events.screened.v1');
    expect(ledger.filter((a) => a.includes('webhooks') || a.includes('events.unique'))).toEqual([]);
  });

  it('gives the reconciler its audit reads (short-lived groups), discrepancies and heal writes', () => {
    expect(of(acls, 'reconciler')).toEqual(
      [
        'read topic audit.v1',
        'write topic audit.v1',
        'write topic reconciliation.discrepancies.v1',
        'write topic webhooks.received.v1',
        'read group* reconciler-',
        'delete group* reconciler-',
      ].sort(),
    );
  });

  it('namespaces every resource with the prefix', () => {
    const prefixed = catalogAcls(catalog, 'e2eab12.');
    expect(prefixed).toHaveLength(acls.length);
    expect(prefixed.every((a) => a.name.startsWith('e2eab12.'))).toBe(true);
  });

  it('covers every principal and grants no read on a topic that does not list the service', () => {
    expect(new Set(acls.map((a) => a.principal))).toEqual(new Set(servicePrincipals(catalog)));
    for (const a of acls.filter((a) => a.resource === 'topic' && a.operation === 'read')) {
      const t = catalog.topics.find((t) => t.name === a.name);
      if (t) expect(t.consumers).toContain(a.principal.replace('tidemark-', ''));
    }
  });

  it('refuses a topic whose producer is not a service (a new topic cannot ship without its ACLs)', () => {
    const bad: Catalog = {
      ...catalog,
      topics: [...catalog.topics, { ...catalog.topics[0]!, name: 'new.topic.v1', producer: 'somebody' }],
    };
    expect(() => catalogAcls(bad)).toThrow(/new\.topic\.v1 is written by "somebody"/);
  });

  it('refuses a consumer whose input does not list it', () => {
    const bad: Catalog = { ...catalog, consumers: [{ ...catalog.consumers[0]!, input: 'events.screened.v1' }] };
    expect(() => catalogAcls(bad)).toThrow(/does not list it/);
  });
});

describe('teamAcls', () => {
  it('reads the named topics and uses groups under its prefix only', () => {
    expect(teamAcls(catalog, 'risk', ['events.screened.v1'], 'p.').map(show)).toEqual([
      'read topic p.events.screened.v1',
      'read group* team-risk.',
    ]);
    expect(teamPrincipal('risk')).toBe('team-risk');
  });

  it('refuses unknown topics and bad team names', () => {
    expect(() => teamAcls(catalog, 'risk', ['nope.v1'])).toThrow(/not in the topic catalog/);
    expect(() => teamAcls(catalog, 'Risk Team', ['audit.v1'])).toThrow(/team name/);
    expect(() => teamAcls(catalog, 'risk', [])).toThrow(/at least one/);
  });
});

const { AclOperationTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

it('maps a binding to the Kafka ACL entry', () => {
  expect(
    toAclEntry({ principal: 'tidemark-dedupe', resource: 'transactional_id', pattern: 'prefixed', name: 'dedupe-', operation: 'write' }),
  ).toEqual({
    principal: 'User:tidemark-dedupe',
    host: '*',
    operation: AclOperationTypes.WRITE,
    permissionType: 3,
    resourceType: AclResourceTypes.TRANSACTIONAL_ID,
    resourceName: 'dedupe-',
    resourcePatternType: ResourcePatternTypes.PREFIXED,
  });
});
