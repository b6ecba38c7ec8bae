import {
  applyCatalog,
  baseConfigSchema,
  createKafka,
  kafkaConnection,
  loadConfig,
  RegistryClient,
  type AclReport,
  type ApplyReport,
} from '@tidemark/common';

/**
 * Topics, schemas and (on a SASL broker) every service principal's ACLs, derived from the catalog for the namespace
 * `prefix`: missing ones added, ones the catalog no longer implies removed (service principals only; team grants
 * stay). Idempotent.
 */
export async function applyTopicsFromEnv(
  prefix: string,
  replication_factor?: number,
): Promise<ApplyReport & AclReport & { secured: boolean }> {
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
