/**
 * Turns a failure into the one line an operator reads on stderr: what failed, where
 * (without credentials), and what to do next.
 */
import type { BaseConfig } from '@tidemark/common';

function databaseWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return '(unparsable TIDEMARK_DATABASE_URL)';
  }
}

export function describeFailure(
  err: unknown,
  config: Pick<BaseConfig, 'TIDEMARK_DATABASE_URL' | 'TIDEMARK_KAFKA_BROKERS' | 'TIDEMARK_REGISTRY_URL'>,
): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: unknown };
  const name = e?.name ?? '';
  const message = e?.message ?? String(err);
  const known = [
    'ProviderUnreachableError',
    'StatementsRequestError',
    'StatementFormatError',
    'PaginationError',
    'LedgerSchemaMissingError',
    'AuditReadError',
    'ConservationCapacityError',
    'PairCapacityError',
    'ConfigError',
    'WindowError',
  ];
  if (known.includes(name)) return message;
  if (name.startsWith('KafkaJS')) {
    return `Kafka at ${config.TIDEMARK_KAFKA_BROKERS} failed (${name}: ${message}); check that the broker is up (npx tidemark infra status) and the topics exist (npx tidemark topics apply)`;
  }
  const code = e?.code ?? (e?.cause as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === '57P01' || code === '57P03') {
    if (/registry|8081|ccompat/i.test(message)) return `the schema registry at ${config.TIDEMARK_REGISTRY_URL} is unreachable (${code})`;
    return `the ledger database at ${databaseWhere(config.TIDEMARK_DATABASE_URL)} is unreachable (${code}); check TIDEMARK_DATABASE_URL and that Postgres is up`;
  }
  if (/Connection terminated|not queryable|terminating connection/i.test(message)) {
    return `the connection to the ledger database at ${databaseWhere(config.TIDEMARK_DATABASE_URL)} was lost mid-run (${message}); the run was abandoned, try again`;
  }
  if (code === '3D000' || code === '28P01' || code === '28000') {
    return `the ledger database at ${databaseWhere(config.TIDEMARK_DATABASE_URL)} refused the connection (${code}: ${message})`;
  }
  if (/subject.*not found|Schema Registry|ResponseError/i.test(`${name} ${message}`)) {
    return `the schema registry at ${config.TIDEMARK_REGISTRY_URL} could not serve the schemas (${message}); run npx tidemark topics apply`;
  }
  if (name === 'AmountError') return `a provider amount is invalid: ${message}`;
  return `${name || 'Error'}: ${message}`;
}
