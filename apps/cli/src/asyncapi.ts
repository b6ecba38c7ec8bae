/**
 * Generates schemas/asyncapi.yaml (AsyncAPI 3.0) from the topic catalog for
 * downstream teams: every topic with its key, schema, retention, producer and consumers.
 */
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadCatalog, loadNamedTypes, plannedTopics, resolveSchema, schemasDir, writeOrCheckGenerated } from '@tidemark/common';

export function buildAsyncApi(): string {
  const catalog = loadCatalog();
  const named = loadNamedTypes();
  const channels: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const t of plannedTopics(catalog, '')) {
    const spec = catalog.topics.find((c) => c.name === t.name);
    const id = t.name.replace(/[^a-zA-Z0-9]/g, '_');
    const record = t.record ?? '';
    const messageId = `${id}_message`;
    messages[messageId] = {
      name: record.split('.').pop(),
      contentType: 'application/vnd.apache.avro+binary',
      description: `Confluent wire format; schema registered under subject ${t.name}-value.`,
      payload: { schemaFormat: 'application/vnd.apache.avro+json;version=1.9.0', schema: resolveSchema(record, named) },
      bindings: {
        kafka: {
          key: { type: 'string', description: spec?.key ?? 'same key as the original record' },
          schemaIdLocation: 'payload',
          schemaIdPayloadEncoding: 'confluent',
        },
      },
    };
    channels[id] = {
      address: t.name,
      description:
        spec?.description ??
        (t.name.endsWith('.dlq')
          ? 'Dead letters of the service, for operators (npx tidemark dlq).'
          : 'Retry ladder rung of the service (internal).'),
      messages: { [messageId]: { $ref: `#/components/messages/${messageId}` } },
      bindings: {
        kafka: {
          topic: t.name,
          partitions: t.partitions,
          topicConfiguration: {
            'cleanup.policy': [t.configs['cleanup.policy']],
            'retention.ms': Number(t.configs['retention.ms']),
            'min.insync.replicas': Number(t.configs['min.insync.replicas']),
          },
        },
      },
      'x-producer': spec?.producer ?? t.name.split('.')[0],
      'x-consumers': spec?.consumers ?? [t.name.split('.')[0]],
    };
    operations[`publish_${id}`] = {
      action: 'send',
      channel: { $ref: `#/channels/${id}` },
      summary: `Written by ${spec?.producer ?? t.name.split('.')[0]}`,
    };
  }
  return (
    '# Generated from schemas/topics.json by `npx tidemark topics asyncapi`. Do not edit.\n' +
    stringify(
      {
        asyncapi: '3.0.0',
        info: {
          title: 'Tidemark event streams',
          version: '1.0.0',
          description:
            'Kafka topics of the Tidemark platform. Keys are wallet ids (customer id when there is no wallet); values are Avro in Confluent wire format; read with isolation level read_committed.',
        },
        servers: {
          local: { host: '127.0.0.1:9092', protocol: 'kafka', description: 'Local single-node KRaft broker (npx tidemark infra up)' },
        },
        channels,
        operations,
        components: { messages },
      },
      { lineWidth: 0 },
    )
  );
}

export function writeAsyncApi(check: boolean): boolean {
  return writeOrCheckGenerated(join(schemasDir(), 'asyncapi.yaml'), buildAsyncApi(), check, {
    stale: 'schemas/asyncapi.yaml is stale: run `npx tidemark topics asyncapi`',
    up_to_date: 'schemas/asyncapi.yaml is up to date',
  });
}
