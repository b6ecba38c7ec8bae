/**
 * Topic names and the idempotent bootstrap (`npx tidemark topics apply`): creates or
 * updates every topic of the catalog (plus each consumer's retry ladder and DLQ) and
 * registers each topic's schema under `<topic>-value` with BACKWARD compatibility.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { loadCatalog, resolveSchema, loadNamedTypes, type Catalog } from './schemas/catalog.js';
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

export interface PlannedTopic {
  name: string;
  partitions: number;
  configs: Record<string, string>;
  /** Full Avro record name registered under `<name>-value`, when the topic has its own schema. */
  record: string | null;
}

/** Every topic the platform needs, with its configs, from the catalog. */
export function plannedTopics(catalog: Catalog = loadCatalog(), prefix?: string): PlannedTopic[] {
  const out: PlannedTopic[] = [];
  for (const t of catalog.topics) {
    out.push({
      name: topicName(t.name, prefix),
      partitions: t.partitions,
      configs: {
        'retention.ms': String(t.retention_ms),
        'cleanup.policy': t.cleanup_policy,
        'min.insync.replicas': String(t.min_insync_replicas),
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
          'min.insync.replicas': String(input.min_insync_replicas),
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
        'min.insync.replicas': String(input.min_insync_replicas),
      },
      record: 'dev.tidemark.stream.v1.DeadLetter',
    });
  }
  return out;
}

export interface ApplyReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  partitions_added: string[];
  schemas: Array<{ subject: string; id: number }>;
}

/** Creates/updates topics and registers schemas. Idempotent: a second run changes nothing. */
export async function applyTopics(
  admin: Admin,
  registry: RegistryClient,
  opts: { prefix?: string; replication_factor?: number; catalog?: Catalog } = {},
): Promise<ApplyReport> {
  const catalog = opts.catalog ?? loadCatalog();
  const replicationFactor = opts.replication_factor ?? catalog.defaults.replication_factor_dev;
  const planned = plannedTopics(catalog, opts.prefix);
  const report: ApplyReport = { created: [], updated: [], unchanged: [], partitions_added: [], schemas: [] };

  const existing = new Set(await admin.listTopics());
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
    const metadata = await admin.fetchTopicMetadata({ topics: present.map((t) => t.name) });
    const grow = present.filter((t) => {
      const meta = metadata.topics.find((m) => m.name === t.name);
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
