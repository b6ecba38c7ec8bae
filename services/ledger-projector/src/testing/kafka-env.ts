/**
 * Integration-test support: the shared broker and registry under a random topic prefix, with
 * every catalog topic and schema applied, a stream transport (for reading topics as the
 * runtime does) and a clean-up that deletes the prefix's topics and subjects again.
 */
import { randomUUID } from 'node:crypto';
import { RegistryClient, applyTopics, baseConfigSchema, createKafka, kafkaConnection, loadConfig } from '@tidemark/common';
import { createTransport } from '@tidemark/stream';

export function ledgerKafkaEnv(prefix_base: string, client_id: string) {
  const config = loadConfig(baseConfigSchema);
  const prefix = `${prefix_base}${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka({ ...kafkaConnection(config), client_id });
  const admin = kafka.admin();
  const registry = new RegistryClient(config.TIDEMARK_REGISTRY_URL);
  const transport = createTransport(config, client_id);
  return {
    config,
    prefix,
    kafka,
    transport,
    async setup(): Promise<void> {
      await admin.connect();
      await applyTopics(admin, registry, { prefix });
    },
    async cleanup(): Promise<void> {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (mine.length) await admin.deleteTopics({ topics: mine });
      for (const s of (await registry.subjects()).filter((s) => s.startsWith(prefix))) await registry.deleteSubject(s);
      await admin.disconnect();
      await transport.close();
    },
  };
}
