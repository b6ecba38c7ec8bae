/**
 * A whole Tidemark stack for end-to-end, chaos and benchmark runs: its own topic
 * prefix, its own Postgres database, its own ports, every service as a real child
 * process (so tests can kill -9 them), traces to Jaeger or an in-test OTLP receiver.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Admin } from 'kafkajs';
import {
  applyCatalog,
  baseConfigSchema,
  catalogAcls,
  createKafka,
  kafkaConnection,
  loadCatalog,
  loadConfig,
  RegistryClient,
  removeAcls,
} from '@tidemark/common';
import {
  consoleReconcilerKafkaEnv,
  kafkaPrincipalOf,
  Platform,
  SERVICE_ENTRIES,
  waitForHttp,
  type ServiceName,
} from '@tidemark/cli/platform';
import { provisionDatabaseAt, serviceDatabaseUrl, type DbService } from '@tidemark/local-infra';

export interface StackOptions {
  /** Base port; services use base+0 (ingress), +1 (ledger API), +2 (dedupe), +3 (screening), +4 (risk API), +5 (console). */
  port_base: number;
  otlp_endpoint: string | null;
  /** Extra environment for every service (e.g. short retry delays). */
  env?: Record<string, string>;
  /** Instances per consumer service (2 = a consumer group with a rebalance). */
  instances?: number;
  /** Folder for the services' log files (default: the Platform's shared `.tidemark/logs`). */
  log_dir?: string;
}

export const CONSUMER_SERVICES: ServiceName[] = ['dedupe', 'compliance-screening', 'ledger-projector'];

export class Stack {
  readonly id = randomUUID().slice(0, 8);
  readonly prefix = `e2e${this.id}.`;
  readonly database = `tidemark_e2e_${this.id}`;
  readonly base = loadConfig(baseConfigSchema);
  readonly reader_token = randomBytes(18).toString('base64url');
  readonly compliance_token = randomBytes(18).toString('base64url');
  readonly operator_token = randomBytes(18).toString('base64url');
  readonly secrets: Record<string, string>;
  platform!: Platform;
  database_url = '';
  private admin: Admin | null = null;

  constructor(
    readonly opts: StackOptions,
    secrets: Record<string, string>,
  ) {
    this.secrets = secrets;
  }

  /** Is the broker SASL_SSL (ACLs apply)? */
  get secured(): boolean {
    return kafkaConnection(this.base).security.protocol === 'sasl_ssl';
  }

  get ingress_url(): string {
    return `http://127.0.0.1:${this.opts.port_base}`;
  }
  get ledger_url(): string {
    return `http://127.0.0.1:${this.opts.port_base + 1}`;
  }
  get risk_url(): string {
    return `http://127.0.0.1:${this.opts.port_base + 4}`;
  }
  get console_url(): string {
    return `http://127.0.0.1:${this.opts.port_base + 5}`;
  }
  portOf(service: ServiceName, instance = 1): number {
    const offset: Record<ServiceName, number> = {
      ingress: 0,
      'ledger-projector': 1,
      dedupe: 2,
      'compliance-screening': 3,
      'risk-api': 4,
      console: 5,
    };
    return this.opts.port_base + offset[service] + (instance - 1) * 10;
  }

  async setUp(): Promise<void> {
    const adminDb = new pg.Client({ connectionString: this.base.TIDEMARK_DATABASE_URL });
    await adminDb.connect();
    await adminDb.query(`CREATE DATABASE ${this.database}`);
    await adminDb.end();
    const url = new URL(this.base.TIDEMARK_DATABASE_URL);
    url.pathname = `/${this.database}`;
    this.database_url = url.toString();
    // Least privilege: each service connects as its own role, owning only its schema (deploy/local/src/db-roles.ts).
    await provisionDatabaseAt(this.database_url);

    const kafka = createKafka({ ...kafkaConnection(this.base), client_id: `stack-${this.id}` });
    this.admin = kafka.admin();
    await this.admin.connect();
    // Every service runs as its own principal (Platform): grant them this stack's namespace, as `topics apply` does.
    await applyCatalog(this.admin, new RegistryClient(this.base.TIDEMARK_REGISTRY_URL), { prefix: this.prefix, secured: this.secured });

    this.platform = new Platform(
      {
        ...this.secrets,
        TIDEMARK_TOPIC_PREFIX: this.prefix,
        TIDEMARK_API_TOKENS: `e2e-reader:${this.reader_token}:reader,e2e-compliance:${this.compliance_token}:compliance,e2e-operator:${this.operator_token}:operator`,
        TIDEMARK_RISK_API_URL: this.risk_url,
        TIDEMARK_LOG_LEVEL: 'info',
        ...(this.opts.otlp_endpoint ? { TIDEMARK_OTLP_ENDPOINT: this.opts.otlp_endpoint } : {}),
        ...this.opts.env,
      },
      this.opts.log_dir,
    );
  }

  /** The database URL of a service's own role (the stack's `database_url` is the admin's). */
  serviceDatabaseUrl(service: DbService): string {
    return serviceDatabaseUrl(this.database_url, service);
  }

  envFor(service: ServiceName, instance: number): Record<string, string> {
    const port = String(this.portOf(service, instance));
    // A stable instance name (like a StatefulSet ordinal): a restarted instance re-registers its
    // transactional id, which ends its predecessor's open transaction at once.
    const TIDEMARK_INSTANCE_ID = `${service}-${instance}`;
    switch (service) {
      case 'ingress':
        return { TIDEMARK_INGRESS_PORT: port, TIDEMARK_INSTANCE_ID };
      case 'ledger-projector':
        return { TIDEMARK_LEDGER_API_PORT: port, TIDEMARK_INSTANCE_ID, TIDEMARK_DATABASE_URL: this.serviceDatabaseUrl('ledger-projector') };
      case 'dedupe':
        return { TIDEMARK_DEDUPE_PORT: port, TIDEMARK_INSTANCE_ID, TIDEMARK_DATABASE_URL: this.serviceDatabaseUrl('dedupe') };
      case 'compliance-screening':
        return {
          TIDEMARK_SCREENING_PORT: port,
          TIDEMARK_INSTANCE_ID,
          TIDEMARK_DATABASE_URL: this.serviceDatabaseUrl('compliance-screening'),
        };
      case 'risk-api':
        return { TIDEMARK_RISK_API_PORT: port };
      case 'console':
        return {
          TIDEMARK_CONSOLE_PORT: port,
          TIDEMARK_CONSOLE_LEDGER_URL: this.ledger_url,
          // Its dead-letter state, as its own role (dlq_ops.stream_dlq_state only).
          TIDEMARK_DATABASE_URL: this.serviceDatabaseUrl('console'),
          // Reconciliations started from the console run as the reconciler: its read-only role and its Kafka principal.
          TIDEMARK_CONSOLE_RECONCILER_DATABASE_URL: this.serviceDatabaseUrl('reconciler'),
          ...consoleReconcilerKafkaEnv(),
          TIDEMARK_CONSOLE_TARGETS: (['ingress', 'dedupe', 'compliance-screening', 'ledger-projector'] as const)
            .map((s) => `${s}=http://127.0.0.1:${this.portOf(s)}`)
            .join(','),
        };
    }
  }

  startService(service: ServiceName, instance = 1, env: Record<string, string> = {}): void {
    this.platform.start({
      name: `${service}#${instance}`,
      entry: SERVICE_ENTRIES[service],
      env: { ...this.envFor(service, instance), ...env },
      kafka_principal: kafkaPrincipalOf(service),
    });
  }

  async startAll(): Promise<void> {
    this.startService('risk-api');
    await waitForHttp(`${this.risk_url}/healthz`, 60_000);
    this.startService('ingress');
    for (const s of CONSUMER_SERVICES) for (let i = 1; i <= (this.opts.instances ?? 1); i++) this.startService(s, i);
    await this.registerWithPrometheus();
    await this.waitReady();
  }

  /** The local Prometheus (when `infra up` runs it) scrapes this stack's services, labelled `stack=<id>`. */
  async registerWithPrometheus(): Promise<void> {
    const { registerScrapeTargets } = await import('@tidemark/local-infra');
    const instances = Array.from({ length: this.opts.instances ?? 1 }, (_, i) => i + 1);
    registerScrapeTargets(this.id, {
      ingress: [this.portOf('ingress')],
      ...Object.fromEntries(CONSUMER_SERVICES.map((s) => [s, instances.map((i) => this.portOf(s, i))])),
    });
  }

  async waitReady(timeout_ms = 120_000): Promise<void> {
    await waitForHttp(`${this.ingress_url}/readyz`, timeout_ms);
    for (const s of CONSUMER_SERVICES) await waitForHttp(`http://127.0.0.1:${this.portOf(s)}/readyz`, timeout_ms);
  }

  async getJson<T>(path: string, token = this.reader_token): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.ledger_url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as T };
  }

  async tearDown(): Promise<void> {
    await this.platform?.stopAll('SIGTERM');
    const { unregisterScrapeTargets } = await import('@tidemark/local-infra');
    unregisterScrapeTargets(this.id);
    if (this.admin) {
      const mine = (await this.admin.listTopics()).filter((t) => t.startsWith(this.prefix));
      if (mine.length) await this.admin.deleteTopics({ topics: mine }).catch(() => undefined);
      if (this.secured) await removeAcls(this.admin, catalogAcls(loadCatalog(), this.prefix)).catch(() => undefined);
      await this.admin.disconnect();
    }
    const registry = new RegistryClient(this.base.TIDEMARK_REGISTRY_URL);
    for (const s of (await registry.subjects().catch(() => [] as string[])).filter((s) => s.startsWith(this.prefix)))
      await registry.deleteSubject(s).catch(() => undefined);
    if (process.env.TIDEMARK_KEEP_E2E_DB !== '1' && this.database_url) {
      const adminDb = new pg.Client({ connectionString: this.base.TIDEMARK_DATABASE_URL });
      await adminDb.connect();
      await adminDb.query(`DROP DATABASE IF EXISTS ${this.database} WITH (FORCE)`).catch(() => undefined);
      await adminDb.end();
    }
  }
}
