/**
 * Who the CLI is, per command. Admin commands (infra, topics, access, schemas, ...) run as the platform admin
 * (`tidemark-admin`, the database owner). A command that does a service's work runs as that service against the local
 * infrastructure: `reconcile` as the reconciler (Kafka principal `tidemark-reconciler`, the read-only ledger role
 * `tidemark_reconciler`), and so does `ledger check`, which only reads; `dlq` keeps the admin's Kafka principal (`purge --truncate` deletes records, which the
 * console's principal may not) and works the dead-letter state as the console's role (`tidemark_console`), the table
 * the console itself uses.
 *
 * Against other infrastructure nothing is replaced: a Kafka security protocol in the environment keeps the
 * environment's Kafka settings, and a database URL with credentials other than the local admin's is kept.
 */
import { ADMIN_PRINCIPAL, baseConfigShape, servicePrincipal } from '@tidemark/common';
import { localKafkaClientEnv, localServiceDatabaseUrl, type DbService } from '@tidemark/local-infra';

export interface CommandIdentity {
  kafka_principal: string;
  /** The service whose Postgres role the command uses (none: the environment's URL, the admin's by default). */
  db_service?: DbService;
}

/** By top-level command; anything not listed is an admin command. */
export const COMMAND_IDENTITIES: Readonly<Record<string, CommandIdentity>> = {
  reconcile: { kafka_principal: servicePrincipal('reconciler'), db_service: 'reconciler' },
  dlq: { kafka_principal: ADMIN_PRINCIPAL, db_service: 'console' },
  // `ledger check` only reads the ledger: the reconciler's read-only role.
  ledger: { kafka_principal: servicePrincipal('reconciler'), db_service: 'reconciler' },
};

export function commandIdentity(command: string): CommandIdentity {
  return COMMAND_IDENTITIES[command] ?? { kafka_principal: ADMIN_PRINCIPAL };
}

/** The environment `command` runs with: its principal's local Kafka credentials and its role's local database URL. */
export function commandEnv(command: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const identity = commandIdentity(command);
  const out: Record<string, string> = {};
  if (!env.TIDEMARK_KAFKA_SECURITY_PROTOCOL) Object.assign(out, localKafkaClientEnv(identity.kafka_principal, env) ?? {});
  if (identity.db_service) {
    // Unset: the configuration's default (the local admin's), replaced like an explicit one.
    const admin_url = baseConfigShape.TIDEMARK_DATABASE_URL.parse(env.TIDEMARK_DATABASE_URL);
    const url = localServiceDatabaseUrl(admin_url, identity.db_service);
    if (url) out.TIDEMARK_DATABASE_URL = url;
  }
  return out;
}
