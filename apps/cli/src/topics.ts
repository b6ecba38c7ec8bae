import { applyTopics, baseConfigSchema, createKafka, kafkaConnection, loadConfig, RegistryClient, type ApplyReport } from '@tidemark/common';

export async function applyTopicsFromEnv(prefix: string, replication_factor?: number): Promise<ApplyReport> {
  const config = loadConfig(baseConfigSchema);
  const kafka = createKafka({ ...kafkaConnection(config), client_id: 'tidemark-cli' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await applyTopics(admin, new RegistryClient(config.TIDEMARK_REGISTRY_URL), { prefix, replication_factor });
  } finally {
    await admin.disconnect();
  }
}
