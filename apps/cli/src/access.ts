/**
 * `tidemark access grant|list|revoke`: read-only Kafka principals for downstream teams. A grant creates the
 * principal `team-<name>` (SCRAM-SHA-512, a fresh password shown once), READ on the named catalog topics and on
 * consumer groups starting `team-<name>.`; revoke deletes its ACLs and its credentials. Needs the admin principal
 * (the CLI's own) and, for credentials, the local infrastructure's broker (ScramUsers.java over the Admin API).
 */
import { randomBytes } from 'node:crypto';
import {
  applyAcls,
  baseConfigSchema,
  createKafka,
  describePrincipalAcls,
  kafkaConnection,
  loadCatalog,
  loadConfig,
  removePrincipalAcls,
  teamAcls,
  teamGroupPrefix,
  teamPrincipal,
  type AclBinding,
} from '@tidemark/common';
import type { Admin } from 'kafkajs';

/** What a team's client needs; the password only once, at grant time. */
export interface TeamClientSettings {
  team: string;
  bootstrap_servers: string;
  security_protocol: 'SASL_SSL';
  sasl_mechanism: 'SCRAM-SHA-512';
  username: string;
  password: string;
  ca_file: string | null;
  group_prefix: string;
  topics: string[];
}

async function withAdmin<T>(fn: (admin: Admin, config: ReturnType<typeof loadConfig<typeof baseConfigSchema>>) => Promise<T>): Promise<T> {
  const config = loadConfig(baseConfigSchema);
  const connection = kafkaConnection(config);
  if (connection.security.protocol !== 'sasl_ssl') {
    throw new Error('access control needs a SASL_SSL broker (TIDEMARK_KAFKA_SECURITY_PROTOCOL=sasl_ssl); this one runs PLAINTEXT');
  }
  const admin = createKafka({ ...connection, client_id: 'tidemark-cli-access' }).admin();
  await admin.connect();
  try {
    return await fn(admin, config);
  } finally {
    await admin.disconnect();
  }
}

/** Creates (or re-keys) the team's principal and grants READ on `topics` (catalog names in namespace `prefix`). */
export async function grantTeam(team: string, topics: readonly string[], prefix = ''): Promise<TeamClientSettings> {
  const bindings = teamAcls(loadCatalog(), team, topics, prefix);
  const username = teamPrincipal(team);
  const password = randomBytes(24).toString('base64url');
  const { upsertKafkaUsers } = await import('@tidemark/local-infra');
  await upsertKafkaUsers({ [username]: password });
  return withAdmin(async (admin, config) => {
    await applyAcls(admin, bindings);
    return {
      team,
      bootstrap_servers: config.TIDEMARK_KAFKA_BROKERS,
      security_protocol: 'SASL_SSL',
      sasl_mechanism: 'SCRAM-SHA-512',
      username,
      password,
      ca_file: config.TIDEMARK_KAFKA_SSL_CA_FILE ?? null,
      group_prefix: teamGroupPrefix(team),
      topics: bindings.filter((b) => b.resource === 'topic').map((b) => b.name),
    };
  });
}

/** Deletes the team's ACLs and credentials; false when it had neither. */
export async function revokeTeam(team: string): Promise<boolean> {
  const principal = teamPrincipal(team);
  const had_acls = await withAdmin(async (admin) => {
    const before = await describePrincipalAcls(admin, principal);
    await removePrincipalAcls(admin, principal);
    return before.length > 0;
  });
  const { deleteKafkaUsers } = await import('@tidemark/local-infra');
  const missing = await deleteKafkaUsers([principal]);
  return had_acls || missing.length === 0;
}

/** Every team principal with credentials, and its ACLs. */
export async function listTeams(): Promise<Array<{ principal: string; acls: AclBinding[] }>> {
  const { listKafkaUsers } = await import('@tidemark/local-infra');
  const teams = (await listKafkaUsers()).filter((u) => u.startsWith(teamPrincipal('x').slice(0, -1))).sort();
  return withAdmin((admin) =>
    Promise.all(teams.map(async (principal) => ({ principal, acls: await describePrincipalAcls(admin, principal) }))),
  );
}

/** librdkafka / kcat / confluent-kafka-python properties for the settings (the password included: print once). */
export function clientProperties(s: TeamClientSettings): string {
  return [
    `bootstrap.servers=${s.bootstrap_servers}`,
    'security.protocol=SASL_SSL',
    `sasl.mechanisms=${s.sasl_mechanism}`,
    `sasl.username=${s.username}`,
    `sasl.password=${s.password}`,
    ...(s.ca_file ? [`ssl.ca.location=${s.ca_file}`] : []),
    `group.id=${s.group_prefix}reader`,
  ].join('\n');
}
