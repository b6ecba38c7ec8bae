import {
  applyCatalog,
  baseConfigSchema,
  createKafka,
  kafkaConnection,
  loadConfig,
  RegistryClient,
  type ApplyReport,
} from '@tidemark/common';

/**
 * Topics, schemas and (on a SASL broker) every service principal's ACLs, derived from the catalog for the namespace
 * `prefix`. Idempotent; ACLs no longer implied by the catalog are not removed (remove them with kafka-acls or revoke).
 */
export async function applyTopicsFromEnv(prefix: string, replication_factor?: number): Promise<ApplyReport & { acls: number }> {
  const config = loadConfig(baseConfigSchema);
  const connection = kafkaConnection(config);
  const kafka = createKafka({ ...connection, client_id: 'tidemark-cli' });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await applyCatalog(admin, new RegistryClient(config.TIDEMARK_REGISTRY_URL), {
      prefix,
      replication_factor,
      secured: connection.security.protocol === 'sasl_ssl',
    });
  } finally {
    await admin.disconnect();
  }
}
