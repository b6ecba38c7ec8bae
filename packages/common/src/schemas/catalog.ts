/**
 * The topic catalog and Avro schemas, loaded from the repo's `schemas/` folder.
 * Schemas reference each other by full name; `resolveSchema` inlines the referenced
 * definitions so that each topic's schema is self-contained when registered.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TopicSpec {
  name: string;
  key: string;
  schema: string;
  record: string;
  partitions: number;
  retention_ms: number;
  cleanup_policy: 'delete' | 'compact' | 'compact,delete';
  producer: string;
  /** Services that also write this topic (e.g. the reconciler's heal events); they get WRITE too (see acls.ts). */
  extra_producers?: string[];
  consumers: string[];
  description: string;
}

export interface ConsumerSpec {
  service: string;
  input: string;
  retry_delays_ms: number[];
  retry_partitions: number;
  dlq_retention_ms: number;
}

/** Replication of every topic for clusters of at least `brokers_min` brokers. */
export interface ReplicationProfile {
  name: string;
  brokers_min: number;
  replication_factor: number;
  min_insync_replicas: number;
}

export interface Catalog {
  replication: { profiles: ReplicationProfile[] };
  /** Services that talk to Kafka: one principal each, with the ACLs their place in the catalog implies (acls.ts). */
  services: {
    names: string[];
    /** Services that operate every consumer's dead letters (list, show, replay, purge): the console (acls.ts). */
    dlq_operators?: string[];
  };
  topics: TopicSpec[];
  consumers: ConsumerSpec[];
}

type AvroJson = Record<string, unknown> | string | AvroJson[];

const moduleDir = dirname(fileURLToPath(import.meta.url));

/** The repo's `schemas/` folder (overridable for packaged deployments). */
export function schemasDir(): string {
  return process.env.TIDEMARK_SCHEMAS_DIR ?? resolve(moduleDir, '../../../../schemas');
}

export function loadCatalog(dir = schemasDir()): Catalog {
  return JSON.parse(readFileSync(join(dir, 'topics.json'), 'utf8')) as Catalog;
}

/**
 * The replication profile for a cluster of `brokers` brokers: the one with the largest `brokers_min` that
 * the cluster reaches. Throws when no profile fits (a catalog without a one-broker profile and a one-broker cluster).
 */
export function replicationProfile(catalog: Pick<Catalog, 'replication'>, brokers: number): ReplicationProfile {
  const fitting = catalog.replication.profiles.filter((p) => p.brokers_min <= brokers).sort((a, b) => b.brokers_min - a.brokers_min);
  const chosen = fitting[0];
  if (!chosen) {
    const known = catalog.replication.profiles.map((p) => `${p.name} (>= ${p.brokers_min})`).join(', ');
    throw new Error(`catalog: no replication profile for a cluster of ${brokers} broker(s); profiles: ${known}`);
  }
  if (chosen.replication_factor > brokers || chosen.min_insync_replicas > chosen.replication_factor || chosen.min_insync_replicas < 1) {
    throw new Error(
      `catalog: replication profile ${chosen.name} is inconsistent: replication_factor ${chosen.replication_factor}, ` +
        `min_insync_replicas ${chosen.min_insync_replicas}, brokers_min ${chosen.brokers_min}`,
    );
  }
  return chosen;
}

/** All named types defined in `schemas/avro/*.avsc`, by full name. */
export function loadNamedTypes(dir = schemasDir()): Map<string, Record<string, unknown>> {
  const named = new Map<string, Record<string, unknown>>();
  const avroDir = join(dir, 'avro');
  for (const file of readdirSync(avroDir)
    .filter((f) => f.endsWith('.avsc'))
    .sort()) {
    const schema = JSON.parse(readFileSync(join(avroDir, file), 'utf8')) as Record<string, unknown>;
    collectNamed(schema, typeof schema.namespace === 'string' ? schema.namespace : '', named);
  }
  return named;
}

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function collectNamed(node: AvroJson, namespace: string, out: Map<string, Record<string, unknown>>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectNamed(item, namespace, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const type = node.type;
  const ns = typeof node.namespace === 'string' ? node.namespace : namespace;
  if ((type === 'record' || type === 'enum' || type === 'fixed') && typeof node.name === 'string') {
    out.set(fullName(node.name, ns), { ...node, namespace: ns, name: node.name.split('.').pop() });
  }
  if (type === 'record' && Array.isArray(node.fields)) {
    for (const field of node.fields as Array<Record<string, unknown>>) collectNamed(field.type as AvroJson, ns, out);
  } else if (type === 'array') collectNamed(node.items as AvroJson, ns, out);
  else if (type === 'map') collectNamed(node.values as AvroJson, ns, out);
  else if (typeof type === 'object') collectNamed(type as AvroJson, ns, out);
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

/**
 * Returns a self-contained schema for `recordName`: every named type it references
 * is defined inline at its first use and referenced by full name afterwards.
 */
export function resolveSchema(recordName: string, named = loadNamedTypes()): Record<string, unknown> {
  const defined = new Set<string>();
  const root = named.get(recordName);
  if (!root) throw new Error(`schema ${recordName} is not defined in schemas/avro`);
  const inline = (node: AvroJson, namespace: string): AvroJson => {
    if (typeof node === 'string') {
      if (PRIMITIVES.has(node)) return node;
      const full = fullName(node, namespace);
      const def = named.get(full) ?? named.get(node);
      if (!def) throw new Error(`schema reference ${node} (in namespace ${namespace}) is not defined`);
      const defFull = fullName(String(def.name), String(def.namespace));
      if (defined.has(defFull)) return defFull;
      return inline(def, namespace);
    }
    if (Array.isArray(node)) return node.map((n) => inline(n, namespace));
    const ns = typeof node.namespace === 'string' ? node.namespace : namespace;
    const type = node.type;
    if ((type === 'record' || type === 'enum' || type === 'fixed') && typeof node.name === 'string') {
      const full = fullName(node.name, ns);
      if (defined.has(full)) return full;
      defined.add(full);
    }
    if (type === 'record') {
      return {
        ...node,
        fields: (node.fields as Array<Record<string, unknown>>).map((f) => ({ ...f, type: inline(f.type as AvroJson, ns) })),
      };
    }
    if (type === 'array') return { ...node, items: inline(node.items as AvroJson, ns) };
    if (type === 'map') return { ...node, values: inline(node.values as AvroJson, ns) };
    if (
      typeof type === 'object' ||
      (typeof type === 'string' && !PRIMITIVES.has(type) && !['record', 'enum', 'fixed', 'array', 'map'].includes(type))
    ) {
      return inline(type as AvroJson, ns);
    }
    return node;
  };
  return inline(root, String(root.namespace)) as Record<string, unknown>;
}
