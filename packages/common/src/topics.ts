/**
 * Topic names and the idempotent bootstrap (`npx tidemark topics apply`): creates or
 * updates every topic of the catalog (plus each consumer's retry ladder and DLQ) and
 * registers each topic's schema under `<topic>-value` with BACKWARD compatibility.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import {
  loadCatalog,
  replicationProfile,
  resolveSchema,
  loadNamedTypes,
  type Catalog,
  type ReplicationProfile,
} from './schemas/catalog.js';
import { RegistryClient } from './registry.js';

/** Applies the namespace prefix (tests use one per run so they can share a broker). */
export function topicName(base: string, prefix: string = process.env.TIDEMARK_TOPIC_PREFIX ?? ''): string {
  return `${prefix}${base}`;
}

export function retryTopic(service: string, rung: number, prefix?: string): string {
  return topicName(`${service}.retry.${rung}`, prefix);
}

export function dlqTopic(service: string, prefix?: string): string {
  return topicName(`${service}.dlq`, prefix);
}

/** Consumer groups of the group-less whole-topic readers (the transports' `readTopic`): namespaced with the topic. */
export function readerGroupPrefix(topic: string): string {
  return `${topic}.reader-`;
}

/** The transactional id of the dead-letter operations (replay, purge) of `service`'s DLQ. */
export function dlqOpsTransactionalId(service: string, prefix?: string): string {
  return topicName(`tidemark-dlq-ops-${service}`, prefix);
}

export interface PlannedTopic {
  name: string;
  partitions: number;
  configs: Record<string, string>;
  /** Full Avro record name registered under `<name>-value`, when the topic has its own schema. */
  record: string | null;
}

/**
 * Every topic the platform needs, with its configs, from the catalog. `replication` sets min.insync.replicas
 * (default: the profile of a one-broker cluster).
 */
export function plannedTopics(
  catalog: Catalog = loadCatalog(),
  prefix?: string,
  replication: ReplicationProfile = replicationProfile(catalog, 1),
): PlannedTopic[] {
  const min_isr = String(replication.min_insync_replicas);
  const out: PlannedTopic[] = [];
  for (const t of catalog.topics) {
    out.push({
      name: topicName(t.name, prefix),
      partitions: t.partitions,
      configs: {
        'retention.ms': String(t.retention_ms),
        'cleanup.policy': t.cleanup_policy,
        'min.insync.replicas': min_isr,
      },
      record: t.record,
    });
  }
  for (const c of catalog.consumers) {
    const input = catalog.topics.find((t) => t.name === c.input);
    if (!input) throw new Error(`catalog: consumer ${c.service} reads unknown topic ${c.input}`);
    c.retry_delays_ms.forEach((delay_ms, i) => {
      out.push({
        name: retryTopic(c.service, i + 1, prefix),
        partitions: c.retry_partitions,
        configs: {
          'retention.ms': String(Math.max(7 * 24 * 3600_000, delay_ms * 10)),
          'cleanup.policy': 'delete',
          'min.insync.replicas': min_isr,
        },
        record: input.record,
      });
    });
    out.push({
      name: dlqTopic(c.service, prefix),
      partitions: c.retry_partitions,
      configs: {
        'retention.ms': String(c.dlq_retention_ms),
        'cleanup.policy': 'delete',
        'min.insync.replicas': min_isr,
      },
      record: 'dev.tidemark.stream.v1.DeadLetter',
    });
  }
  return out;
}

export interface ApplyReport {
  /** The replication profile applied and the cluster size it was chosen for. */
  replication: { profile: string; brokers: number; replication_factor: number; min_insync_replicas: number };
  /** Existing topics with fewer replicas than the profile (Kafka changes that only by partition reassignment). */
  under_replicated: string[];
  created: string[];
  updated: string[];
  unchanged: string[];
  partitions_added: string[];
  schemas: Array<{ subject: string; id: number }>;
}

const OFFSETS_TOPIC = '__consumer_offsets';

/**
 * Creates/updates topics and registers schemas. Idempotent: a second run changes nothing.
 * Replication comes from the catalog's profile for the cluster's size: the larger of the brokers the cluster
 * reports and the replicas that existing topics (the catalog's and __consumer_offsets) already have, so a broker
 * that is down never lowers min.insync.replicas nor creates new topics with fewer replicas.
 */
export async function applyTopics(
  admin: Admin,
  registry: RegistryClient,
  opts: { prefix?: string; replication_factor?: number; catalog?: Catalog } = {},
): Promise<ApplyReport> {
  const catalog = opts.catalog ?? loadCatalog();
  const names = plannedTopics(catalog, opts.prefix).map((t) => t.name);
  const existing = new Set(await admin.listTopics());
  const present_names = names.filter((n) => existing.has(n));
  // The group-offsets topic is replicated as the cluster was configured to (3 in a 3-broker cluster), so it
  // tells the cluster's size while a broker is down, even before any catalog topic exists.
  const witnesses = [...present_names, ...(existing.has(OFFSETS_TOPIC) ? [OFFSETS_TOPIC] : [])];
  const witness_metadata = witnesses.length > 0 ? (await admin.fetchTopicMetadata({ topics: witnesses })).topics : [];
  const present_metadata = witness_metadata.filter((t) => t.name !== OFFSETS_TOPIC);
  const replicas_existing = Math.max(0, ...witness_metadata.flatMap((t) => t.partitions.map((p) => p.replicas.length)));
  const brokers = Math.max((await admin.describeCluster()).brokers.length, replicas_existing);
  const profile = replicationProfile(catalog, brokers);
  const replicationFactor = opts.replication_factor ?? profile.replication_factor;
  const planned = plannedTopics(catalog, opts.prefix, profile);
  const report: ApplyReport = {
    replication: {
      profile: profile.name,
      brokers,
      replication_factor: replicationFactor,
      min_insync_replicas: profile.min_insync_replicas,
    },
    under_replicated: present_metadata.filter((t) => t.partitions.some((p) => p.replicas.length < replicationFactor)).map((t) => t.name),
    created: [],
    updated: [],
    unchanged: [],
    partitions_added: [],
    schemas: [],
  };

  const toCreate: ITopicConfig[] = planned
    .filter((t) => !existing.has(t.name))
    .map((t) => ({
      topic: t.name,
      numPartitions: t.partitions,
      replicationFactor,
      configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })),
    }));
  if (toCreate.length > 0) {
    await admin.createTopics({ topics: toCreate, waitForLeaders: true });
    report.created.push(...toCreate.map((t) => t.topic));
  }

  const present = planned.filter((t) => existing.has(t.name));
  if (present.length > 0) {
    const grow = present.filter((t) => {
      const meta = present_metadata.find((m) => m.name === t.name);
      return meta !== undefined && meta.partitions.length < t.partitions;
    });
    if (grow.length > 0) {
      await admin.createPartitions({ topicPartitions: grow.map((t) => ({ topic: t.name, count: t.partitions })) });
      report.partitions_added.push(...grow.map((t) => t.name));
    }
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((t) => ({ type: 2 /* TOPIC */, name: t.name })),
    });
    for (const t of present) {
      const resource = described.resources.find((r) => r.resourceName === t.name);
      const differs = Object.entries(t.configs).some(([name, value]) => {
        const current = resource?.configEntries.find((e) => e.configName === name)?.configValue;
        return current !== value;
      });
      if (differs) {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [{ type: 2, name: t.name, configEntries: Object.entries(t.configs).map(([name, value]) => ({ name, value })) }],
        });
        report.updated.push(t.name);
      } else {
        report.unchanged.push(t.name);
      }
    }
  }

  const named = loadNamedTypes();
  for (const t of planned) {
    if (!t.record) continue;
    const subject = `${t.name}-value`;
    const id = await registry.register(subject, resolveSchema(t.record, named), 'BACKWARD');
    report.schemas.push({ subject, id });
  }
  return report;
}
