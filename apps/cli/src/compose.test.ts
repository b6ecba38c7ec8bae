/**
 * docker-compose.yml carries the same Kafka model as `infra up` and deploy/k8s (there is no Docker engine here, so the
 * file is checked, not run): the broker's properties are the generator's (deploy/local/src/compose.ts, the same code
 * as `infra up`'s broker), the init step formats a SCRAM credential for every platform principal, `topics apply` runs
 * as the admin before any service, and every service reaches Kafka over SASL_SSL as its own principal with its own
 * password from .env — never a committed one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ADMIN_PRINCIPAL, loadCatalog, servicePrincipal } from '@tidemark/common';
import { COMPOSE_KAFKA, composeKafkaFiles, composePasswordVar, platformPrincipals, POSTGRES } from '@tidemark/local-infra';
import { repoRoot } from './paths.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
}

const text = readFileSync(join(repoRoot(), 'docker-compose.yml'), 'utf8');
const compose = parse(text, { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const services = compose.services;
const catalog = loadCatalog();
const env = (name: string) => services[name]!.environment ?? {};
/** Services that talk to Kafka (they carry the shared Kafka settings). */
const kafkaClients = Object.entries(services).filter(([, s]) => s.environment?.TIDEMARK_KAFKA_BROKERS !== undefined);
/** `${VAR:?message}`: the value comes from the environment or .env, compose refuses to start without it. */
const fromEnv = (v: unknown) => /^\$\{([A-Z0-9_]+):\?[^}]+\}$/.exec(String(v))?.[1];

describe('docker-compose.yml: the secured Kafka model', () => {
  it("runs the broker on the committed properties, which are the generator's (the same code as infra up's broker)", () => {
    const files = composeKafkaFiles();
    for (const [file, generated] of Object.entries(files))
      expect(readFileSync(join(repoRoot(), 'deploy', 'container', 'kafka', file), 'utf8'), file).toBe(generated);
    const props = new Map(
      files['server.properties']
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    expect(props.get('listener.security.protocol.map')).toBe('CONTROLLER:SSL,SASL_SSL:SASL_SSL');
    expect(props.get('sasl.enabled.mechanisms')).toBe('SCRAM-SHA-512');
    expect(props.get('authorizer.class.name')).toBe('org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    expect(props.get('allow.everyone.if.no.acl.found')).toBe('false');
    expect(props.get('advertised.listeners')).toBe(`SASL_SSL://${COMPOSE_KAFKA.host}:${COMPOSE_KAFKA.port}`);
    expect(services.kafka!.command).toEqual(['/opt/kafka/bin/kafka-server-start.sh', `${COMPOSE_KAFKA.secrets_dir}/server.properties`]);
    expect(services.kafka!.depends_on).toEqual({ 'kafka-init': { condition: 'service_completed_successfully' } });
    expect(text).not.toMatch(/PLAINTEXT/);
  });

  it('formats a SCRAM credential for every platform principal, each password from .env', () => {
    const init = services['kafka-init']!;
    expect(init.entrypoint).toEqual(['/bin/sh', `${COMPOSE_KAFKA.templates_dir}/init.sh`]);
    expect(init.volumes).toContain(`./deploy/container/kafka:${COMPOSE_KAFKA.templates_dir}:ro`);
    const principals = String(init.environment!.TIDEMARK_KAFKA_PRINCIPALS).split(' ');
    expect(principals.sort()).toEqual(platformPrincipals().sort());
    for (const p of principals) expect(fromEnv(init.environment![composePasswordVar(p)]), p).toBe(composePasswordVar(p));
    // The script derives the same variable names and formats with --add-scram.
    const script = readFileSync(join(repoRoot(), 'deploy', 'container', 'kafka', 'init.sh'), 'utf8');
    expect(script).toContain(`TIDEMARK_KAFKA_PASSWORD_$(echo "\${principal#tidemark-}" | tr 'a-z-' 'A-Z_')`);
    expect(script).toContain(
      '"$KAFKA_STORAGE" format --standalone -t "$("$KAFKA_STORAGE" random-uuid)" -c "$SECRETS/server.properties" "$@"',
    );
    expect(script).toContain('KAFKA_STORAGE=${TIDEMARK_KAFKA_STORAGE:-/opt/kafka/bin/kafka-storage.sh}');
    expect(script).toContain('--add-scram "SCRAM-SHA-512=[name=$principal,password=$password]"');
    expect(script).toContain('-ext SAN=dns:kafka,dns:localhost');
  });

  it('applies topics and the catalog ACLs as the admin before any service starts', () => {
    const topics = services.topics!;
    expect(topics.command).toEqual(['node', 'bin/tidemark.mjs', 'topics', 'apply']);
    expect(env('topics').TIDEMARK_KAFKA_SASL_USERNAME).toBe(ADMIN_PRINCIPAL);
    expect(fromEnv(env('topics').TIDEMARK_KAFKA_SASL_PASSWORD)).toBe(composePasswordVar(ADMIN_PRINCIPAL));
    expect(topics.depends_on?.kafka).toEqual({ condition: 'service_healthy' });
    for (const name of catalog.services.names.filter((n) => services[n] && n !== 'console'))
      expect(services[name]!.depends_on?.topics, name).toEqual({ condition: 'service_completed_successfully' });
  });

  it('gives every service its own principal over SASL_SSL, trusting the CA volume, with its own password from .env', () => {
    const users = new Map<string, string>();
    for (const [name, s] of kafkaClients) {
      const e = s.environment!;
      expect(e.TIDEMARK_KAFKA_SECURITY_PROTOCOL, name).toBe('sasl_ssl');
      expect(e.TIDEMARK_KAFKA_SASL_MECHANISM, name).toBe('scram-sha-512');
      expect(e.TIDEMARK_KAFKA_SSL_CA_FILE, name).toBe(`${COMPOSE_KAFKA.ca_dir}/ca.crt`);
      expect(s.volumes, name).toEqual([`kafka-ca:${COMPOSE_KAFKA.ca_dir}:ro`]);
      const user = String(e.TIDEMARK_KAFKA_SASL_USERNAME);
      expect(fromEnv(e.TIDEMARK_KAFKA_SASL_PASSWORD), name).toBe(composePasswordVar(user));
      if (catalog.services.names.includes(name)) expect(user, name).toBe(servicePrincipal(name));
      users.set(name, user);
    }
    // Each catalog service compose runs has its own principal; only the topics job is the admin.
    expect([...users].filter(([, u]) => u === ADMIN_PRINCIPAL).map(([n]) => n)).toEqual(['topics']);
    const run = catalog.services.names.filter((n) => services[n]);
    expect(run.sort()).toEqual(['compliance-screening', 'console', 'dedupe', 'ingress', 'ledger-projector']);
    expect(new Set(run.map((n) => users.get(n))).size).toBe(run.length);
    // The console's reconciliations run as the reconciler.
    expect(env('console').TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_USERNAME).toBe(servicePrincipal('reconciler'));
    expect(fromEnv(env('console').TIDEMARK_CONSOLE_RECONCILER_KAFKA_SASL_PASSWORD)).toBe(composePasswordVar('tidemark-reconciler'));
  });

  it('commits no Kafka secret: every password is interpolated from the environment, and only the broker sees the keystores', () => {
    for (const [name, s] of Object.entries(services))
      for (const [k, v] of Object.entries(s.environment ?? {}))
        if (/KAFKA.*PASSWORD/.test(k)) expect(fromEnv(v), `${name} ${k}`).toBeDefined();
    const withSecrets = Object.entries(services)
      .filter(([, s]) => (s.volumes ?? []).some((v) => v.startsWith('kafka-secrets:')))
      .map(([n]) => n);
    expect(withSecrets.sort()).toEqual(['kafka', 'kafka-init']);
  });
});

describe('docker-compose.yml: Postgres roles', () => {
  it("runs the schema registry as its own role and database, as infra up does, never the postgres image's superuser", () => {
    const registry = env('registry');
    const superuser = String(env('postgres').POSTGRES_USER);
    expect(registry.APICURIO_DATASOURCE_USERNAME).toBe(POSTGRES.registry_user);
    expect(registry.APICURIO_DATASOURCE_USERNAME).not.toBe(superuser);
    expect(registry.APICURIO_DATASOURCE_URL).toBe(`jdbc:postgresql://postgres:5432/${POSTGRES.registry_database}`);
    // The postgres image's init scripts create that role (no superuser) and its database.
    const init = readFileSync(join(repoRoot(), 'deploy', 'postgres', 'initdb', '05-registry.sql'), 'utf8');
    expect(init).toContain(`CREATE ROLE ${POSTGRES.registry_user} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    expect(init).toContain(`PASSWORD '${String(registry.APICURIO_DATASOURCE_PASSWORD)}'`);
    expect(init).toContain(`CREATE DATABASE ${POSTGRES.registry_database} OWNER ${POSTGRES.registry_user}`);
  });
});

describe('docker-compose.yml: supervision', () => {
  it('starts every platform service again when it exits with a failure (the stream runtime exits 70 to be restarted)', () => {
    for (const name of ['ingress', 'dedupe', 'risk-api', 'compliance-screening', 'ledger-projector', 'console'])
      expect(services[name]?.restart, name).toBe('on-failure');
  });
});
