import { describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { aclText, catalogAcls, diffCatalogAcls, servicePrincipals, teamAcls, teamPrincipal, toAclEntry, type AclBinding } from './acls.js';
import { loadCatalog, type Catalog } from './schemas/catalog.js';

const catalog = loadCatalog();
const show = aclText;
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

  it('gives the console (dlq operator) exactly its dead-letter actions for every consumer, nothing else', () => {
    const inputs: Record<string, string> = {
      dedupe: 'webhooks.received.v1',
      'compliance-screening': 'events.unique.v1',
      'ledger-projector': 'events.screened.v1',
    };
    expect(of(acls, 'console')).toEqual(
      [
        'write topic audit.v1',
        ...Object.entries(inputs).flatMap(([service, input]) => [
          `read topic ${service}.dlq`,
          `read group* ${service}.dlq.reader-`,
          `delete group* ${service}.dlq.reader-`,
          `write topic ${input}`,
          `write transactional_id tidemark-dlq-ops-${service}`,
        ]),
      ].sort(),
    );
  });

  it('refuses a dlq operator that is not a service', () => {
    const bad: Catalog = { ...catalog, services: { ...catalog.services, dlq_operators: ['somebody'] } };
    expect(() => catalogAcls(bad)).toThrow(/dlq operator somebody is not a service/);
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

describe('diffCatalogAcls (what topics apply adds and removes)', () => {
  const key = (b: AclBinding) => `${b.principal} ${show(b)}`;
  const keys = (bs: AclBinding[]) => bs.map(key).sort();
  const stale = (principal: string, name: string, operation: AclBinding['operation'] = 'read'): AclBinding => ({
    principal,
    resource: 'topic',
    pattern: 'literal',
    name,
    operation,
  });

  it('adds everything on an empty cluster and nothing once applied (idempotent)', () => {
    const wanted = catalogAcls(catalog, 'p1.');
    expect(keys(diffCatalogAcls(catalog, [], 'p1.').add)).toEqual(keys(wanted));
    expect(diffCatalogAcls(catalog, wanted, 'p1.')).toEqual({ add: [], remove: [] });
  });

  it("removes a service principal's ACL the catalog no longer implies, in its own namespace only", () => {
    const current = [
      ...catalogAcls(catalog, 'p1.'),
      ...catalogAcls(catalog, 'p2.'),
      ...catalogAcls(catalog, ''),
      stale('tidemark-ingress', 'p1.events.screened.v1'),
      stale('tidemark-dedupe', 'p1.old.topic.v1', 'write'),
      stale('tidemark-ingress', 'p2.events.screened.v1'),
      stale('tidemark-ingress', 'events.screened.v1'),
    ];
    expect(keys(diffCatalogAcls(catalog, current, 'p1.').remove)).toEqual([
      'tidemark-dedupe write topic p1.old.topic.v1',
      'tidemark-ingress read topic p1.events.screened.v1',
    ]);
    // Namespace '' is every name, yet p1. and p2. are namespaces of their own (their catalog ACLs show them).
    expect(keys(diffCatalogAcls(catalog, current, '').remove)).toEqual(['tidemark-ingress read topic events.screened.v1']);
    expect(diffCatalogAcls(catalog, current, 'p1.').add).toEqual([]);
  });

  it('never removes team grants, the admin or principals the catalog does not know', () => {
    const current = [
      ...catalogAcls(catalog, 'p1.'),
      ...teamAcls(catalog, 'risk', ['events.screened.v1'], 'p1.'),
      stale('tidemark-admin', 'p1.events.screened.v1'),
      stale('tidemark-retired-service', 'p1.events.screened.v1'),
      stale('User:someone', 'p1.audit.v1'),
    ];
    expect(diffCatalogAcls(catalog, current, 'p1.')).toEqual({ add: [], remove: [] });
  });

  it('removes every ACL of a topic dropped from the catalog', () => {
    const before: Catalog = {
      ...catalog,
      topics: [
        ...catalog.topics,
        { ...catalog.topics[0]!, name: 'old.topic.v1', producer: 'ledger-projector', extra_producers: [], consumers: ['reconciler'] },
      ],
    };
    const current = catalogAcls(before, 'p1.');
    const { add, remove } = diffCatalogAcls(catalog, current, 'p1.');
    expect(add).toEqual([]);
    expect(keys(remove)).toEqual([
      'tidemark-ledger-projector write topic p1.old.topic.v1',
      'tidemark-reconciler read topic p1.old.topic.v1',
    ]);
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
