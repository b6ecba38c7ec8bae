/**
 * Kafka access control derived from the topic catalog (`schemas/topics.json`): one principal per
 * service with exactly the ACLs its place in the catalog implies, and read-only principals for
 * downstream teams. `catalogAcls` and `diffCatalogAcls` are pure (unit tested); `applyAcls`/`removeAcls`/`applyCatalog` talk to
 * the broker.
 *
 * Per service `s` (with the namespace prefix `p` of the run):
 * - WRITE on every topic whose `producer` is `s` (or "every stage"), or that lists `s` in `extra_producers`;
 * - READ on every topic that lists `s` among its `consumers`;
 * - a stream consumer (catalog `consumers` entry): READ on its group `p+s`, READ+WRITE on its own retry
 *   ladder and DLQ, WRITE on transactional ids starting `p+s-` (the stream runtime names them so);
 * - any other reader: READ+DELETE on groups starting `p+s-` (short-lived groups it deletes after use);
 * - a `dlq_operator` (the console), per stream consumer `c`: READ on `c`'s DLQ and READ+DELETE on its reader groups
 *   (readerGroupPrefix), WRITE on `c`'s input (replay) and on the transactional id of `c`'s DLQ operations. It may not
 *   read any other topic nor write any topic that is not a consumer's input (or audit.v1).
 * READ and WRITE imply DESCRIBE in Kafka, so metadata and offset look-ups need nothing more.
 * A producer the catalog names that is not a service (and not "every stage") is an error: a new
 * topic cannot ship without saying who writes it.
 */
import kafkajs, { type Admin, type AclEntry, type AclFilter } from 'kafkajs';
import type { Catalog } from './schemas/catalog.js';
import type { RegistryClient } from './registry.js';
import { loadCatalog } from './schemas/catalog.js';
import { applyTopics, dlqOpsTransactionalId, dlqTopic, readerGroupPrefix, retryTopic, topicName, type ApplyReport } from './topics.js';

export type AclResource = 'topic' | 'group' | 'transactional_id';
export type AclOperation = 'read' | 'write' | 'delete';
export type AclPattern = 'literal' | 'prefixed';

/** One ALLOW rule: `principal` may do `operation` on the resource(s) `name` names (exactly, or as a prefix). */
export interface AclBinding {
  principal: string;
  resource: AclResource;
  pattern: AclPattern;
  name: string;
  operation: AclOperation;
}

/** The platform's own principal for admin work (topics, ACLs, credentials): a broker super-user. */
export const ADMIN_PRINCIPAL = 'tidemark-admin';
/** The producer value of topics every service writes (audit.v1). */
export const EVERY_STAGE = 'every stage';
const SERVICE_PRINCIPAL_PREFIX = 'tidemark-';
const TEAM_PRINCIPAL_PREFIX = 'team-';

/** The Kafka principal (SCRAM user name) of a service. */
export function servicePrincipal(service: string): string {
  return `${SERVICE_PRINCIPAL_PREFIX}${service}`;
}

/** Services with a Kafka principal: the catalog's `services` list. */
export function catalogServices(catalog: Pick<Catalog, 'services'>): string[] {
  return [...catalog.services.names];
}

/** Every service principal the catalog implies (what `infra up` creates credentials for). */
export function servicePrincipals(catalog: Pick<Catalog, 'services'>): string[] {
  return catalogServices(catalog).map(servicePrincipal);
}

/** The ACLs of every service principal for the topics of namespace `prefix`. Pure; throws on an inconsistent catalog. */
export function catalogAcls(catalog: Catalog, prefix = ''): AclBinding[] {
  const services = new Set(catalogServices(catalog));
  const out: AclBinding[] = [];
  const add = (service: string, resource: AclResource, pattern: AclPattern, name: string, ...ops: AclOperation[]) => {
    for (const operation of ops) out.push({ principal: servicePrincipal(service), resource, pattern, name, operation });
  };
  const readers = new Set<string>();
  for (const t of catalog.topics) {
    const writers = t.producer === EVERY_STAGE ? [...services] : [t.producer, ...(t.extra_producers ?? [])];
    for (const w of writers) {
      if (!services.has(w)) {
        throw new Error(`catalog: topic ${t.name} is written by "${w}", which is not a service (services: ${[...services].join(', ')})`);
      }
      add(w, 'topic', 'literal', topicName(t.name, prefix), 'write');
    }
    for (const c of t.consumers.filter((c) => services.has(c))) {
      add(c, 'topic', 'literal', topicName(t.name, prefix), 'read');
      readers.add(c);
    }
  }
  const stream = new Set<string>();
  for (const c of catalog.consumers) {
    if (!services.has(c.service)) throw new Error(`catalog: consumer ${c.service} is not a service`);
    const input = catalog.topics.find((t) => t.name === c.input);
    if (!input?.consumers.includes(c.service)) {
      throw new Error(`catalog: consumer ${c.service} reads ${c.input}, which does not list it among its consumers`);
    }
    stream.add(c.service);
    add(c.service, 'group', 'literal', topicName(c.service, prefix), 'read');
    for (let rung = 1; rung <= c.retry_delays_ms.length; rung++)
      add(c.service, 'topic', 'literal', retryTopic(c.service, rung, prefix), 'read', 'write');
    add(c.service, 'topic', 'literal', dlqTopic(c.service, prefix), 'read', 'write');
    add(c.service, 'transactional_id', 'prefixed', `${topicName(c.service, prefix)}-`, 'write');
  }
  for (const r of [...readers].filter((r) => !stream.has(r))) add(r, 'group', 'prefixed', `${topicName(r, prefix)}-`, 'read', 'delete');
  for (const o of catalog.services.dlq_operators ?? []) {
    if (!services.has(o)) throw new Error(`catalog: dlq operator ${o} is not a service`);
    for (const c of catalog.consumers) {
      const dlq = dlqTopic(c.service, prefix);
      add(o, 'topic', 'literal', dlq, 'read');
      add(o, 'group', 'prefixed', readerGroupPrefix(dlq), 'read', 'delete');
      add(o, 'topic', 'literal', topicName(c.input, prefix), 'write');
      add(o, 'transactional_id', 'literal', dlqOpsTransactionalId(c.service, prefix), 'write');
    }
  }
  return out;
}

/** A downstream team's principal name. */
export function teamPrincipal(team: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(team)) {
    throw new Error(`team name ${JSON.stringify(team)}: use 1-48 lower-case letters, digits and "-"`);
  }
  return `${TEAM_PRINCIPAL_PREFIX}${team}`;
}

/** Consumer groups a team may use: names starting with this prefix. */
export function teamGroupPrefix(team: string): string {
  return `${teamPrincipal(team)}.`;
}

/** A team's read-only ACLs: READ on each named topic (catalog names, namespaced by `prefix`), groups by prefix. */
export function teamAcls(catalog: Pick<Catalog, 'topics'>, team: string, topics: readonly string[], prefix = ''): AclBinding[] {
  const principal = teamPrincipal(team);
  if (topics.length === 0) throw new Error('name at least one topic');
  const known = new Set(catalog.topics.map((t) => t.name));
  const unknown = topics.filter((t) => !known.has(t));
  if (unknown.length > 0) throw new Error(`not in the topic catalog: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
  return [
    ...[...new Set(topics)].map((t): AclBinding => ({
      principal,
      resource: 'topic',
      pattern: 'literal',
      name: topicName(t, prefix),
      operation: 'read',
    })),
    { principal, resource: 'group', pattern: 'prefixed', name: teamGroupPrefix(team), operation: 'read' },
  ];
}

// kafkajs is CommonJS: its enums are values of the default export, not ESM named exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
type AclResourceTypes = kafkajs.AclResourceTypes;
type AclOperationTypes = kafkajs.AclOperationTypes;
type ResourcePatternTypes = kafkajs.ResourcePatternTypes;

const RESOURCE: Record<AclResource, AclResourceTypes> = {
  topic: AclResourceTypes.TOPIC,
  group: AclResourceTypes.GROUP,
  transactional_id: AclResourceTypes.TRANSACTIONAL_ID,
};
const OPERATION: Record<AclOperation, AclOperationTypes> = {
  read: AclOperationTypes.READ,
  write: AclOperationTypes.WRITE,
  delete: AclOperationTypes.DELETE,
};
const PATTERN: Record<AclPattern, ResourcePatternTypes> = {
  literal: ResourcePatternTypes.LITERAL,
  prefixed: ResourcePatternTypes.PREFIXED,
};

/** kafkajs' form of a binding (ALLOW from any host). */
export function toAclEntry(b: AclBinding): AclEntry {
  return {
    principal: `User:${b.principal}`,
    host: '*',
    operation: OPERATION[b.operation],
    permissionType: AclPermissionTypes.ALLOW,
    resourceType: RESOURCE[b.resource],
    resourceName: b.name,
    resourcePatternType: PATTERN[b.pattern],
  };
}

/** Creates the bindings (creating an existing ACL changes nothing). */
export async function applyAcls(admin: Admin, bindings: readonly AclBinding[]): Promise<number> {
  if (bindings.length === 0) return 0;
  await admin.createAcls({ acl: bindings.map(toAclEntry) });
  return bindings.length;
}

/** Deletes exactly these bindings. */
export async function removeAcls(admin: Admin, bindings: readonly AclBinding[]): Promise<void> {
  if (bindings.length === 0) return;
  await admin.deleteAcls({ filters: bindings.map((b): AclFilter => toAclEntry(b)) });
}

/** Every ACL of `principal` (as bindings; only the kinds Tidemark creates are understood). */
export async function describePrincipalAcls(admin: Admin, principal: string): Promise<AclBinding[]> {
  const res = await admin.describeAcls({
    principal: `User:${principal}`,
    resourceType: AclResourceTypes.ANY,
    resourcePatternType: ResourcePatternTypes.ANY,
    operation: AclOperationTypes.ANY,
    permissionType: AclPermissionTypes.ALLOW,
  });
  const back = <K extends string, V>(map: Record<K, V>, v: V) => (Object.entries(map) as [K, V][]).find(([, x]) => x === v)?.[0];
  const out: AclBinding[] = [];
  for (const r of res.resources) {
    const resource = back(RESOURCE, r.resourceType);
    const pattern = back(PATTERN, r.resourcePatternType);
    for (const acl of r.acls) {
      const operation = back(OPERATION, acl.operation);
      if (resource && pattern && operation) out.push({ principal, resource, pattern, name: r.resourceName, operation });
    }
  }
  return out;
}

/** Deletes every ALLOW ACL of `principal`. */
export async function removePrincipalAcls(admin: Admin, principal: string): Promise<void> {
  await admin.deleteAcls({
    filters: [
      {
        principal: `User:${principal}`,
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      },
    ],
  });
}

/** One line for people: `write topic audit.v1`, `read group* team-risk.` (a `*` marks a prefix). */
export function aclText(b: Omit<AclBinding, 'principal'>): string {
  return `${b.operation} ${b.resource}${b.pattern === 'prefixed' ? '*' : ''} ${b.name}`;
}

/** A stable identity of a binding (principal, resource, pattern, name, operation). */
export function aclKey(b: AclBinding): string {
  return [b.principal, b.resource, b.pattern, b.name, b.operation].join('\u0000');
}

/**
 * The namespaces (topic prefixes) present among `names`: every name that is a catalog-derived resource name of
 * namespace '' preceded by some prefix `q` (e.g. `acc12.dedupe.dlq` shows namespace `acc12.`). Pure.
 */
export function aclNamespaces(catalog: Catalog, names: Iterable<string>): Set<string> {
  const bases = new Set(catalogAcls(catalog, '').map((b) => b.name));
  const out = new Set<string>();
  for (const name of names) for (const base of bases) if (name.endsWith(base)) out.add(name.slice(0, name.length - base.length));
  return out;
}

export interface AclDiff {
  /** Implied by the catalog, missing on the cluster. */
  add: AclBinding[];
  /** On the cluster for a service principal of namespace `prefix`, no longer implied by the catalog. */
  remove: AclBinding[];
}

/**
 * What makes the cluster's ACLs (`current`) those the catalog implies for the namespace `prefix`. Pure.
 * Only the catalog's service principals are managed: team principals, the admin and principals the catalog
 * does not know (a retired service) are never removed. Only namespace `prefix` is touched: a name belongs to the
 * longest namespace present on the cluster (aclNamespaces) that it starts with, so applying namespace '' never
 * removes the ACLs of a test stack's `acc12.` namespace, nor the reverse.
 */
export function diffCatalogAcls(catalog: Catalog, current: readonly AclBinding[], prefix = ''): AclDiff {
  const wanted = catalogAcls(catalog, prefix);
  const managed = new Set(servicePrincipals(catalog));
  const mine = current.filter((b) => managed.has(b.principal));
  const namespaces = [
    ...aclNamespaces(
      catalog,
      mine.map((b) => b.name),
    ),
    prefix,
  ].sort((a, b) => b.length - a.length);
  const ownerOf = (name: string) => namespaces.find((q) => name.startsWith(q)) ?? '';
  const have = new Set(current.map(aclKey));
  const want = new Set(wanted.map(aclKey));
  return {
    add: wanted.filter((b) => !have.has(aclKey(b))),
    remove: mine.filter((b) => ownerOf(b.name) === prefix && !want.has(aclKey(b))),
  };
}

/** The ACLs `applyCatalog` added and removed. */
export interface AclReport {
  acls_added: AclBinding[];
  acls_removed: AclBinding[];
}

/**
 * Makes the service principals' ACLs of namespace `prefix` exactly those the catalog implies: adds the missing ones,
 * removes those no longer implied (diffCatalogAcls says which). Idempotent: a second run changes nothing.
 */
export async function reconcileCatalogAcls(admin: Admin, catalog: Catalog, prefix = ''): Promise<AclReport> {
  const current = (await Promise.all(servicePrincipals(catalog).map((p) => describePrincipalAcls(admin, p)))).flat();
  const diff = diffCatalogAcls(catalog, current, prefix);
  await applyAcls(admin, diff.add);
  await removeAcls(admin, diff.remove);
  return { acls_added: diff.add, acls_removed: diff.remove };
}

/**
 * The catalog on a cluster: topics and schemas (applyTopics) and, on a broker with ACLs
 * (`secured`), every service's ACLs for the namespace `prefix` (reconcileCatalogAcls: missing ones added, ones the
 * catalog no longer implies removed). Idempotent.
 */
export async function applyCatalog(
  admin: Admin,
  registry: RegistryClient,
  opts: { prefix?: string; replication_factor?: number; secured: boolean },
): Promise<ApplyReport & AclReport & { secured: boolean }> {
  const report = await applyTopics(admin, registry, { prefix: opts.prefix, replication_factor: opts.replication_factor });
  const acls = opts.secured ? await reconcileCatalogAcls(admin, loadCatalog(), opts.prefix ?? '') : { acls_added: [], acls_removed: [] };
  return { ...report, ...acls, secured: opts.secured };
}
