/**
 * The local broker's security material, all under `<state>/secrets/kafka/` (mode 0700, never committed):
 * - `credentials.json` (0600): the keystore password and one SCRAM password per platform principal
 *   (the admin super-user and one per service), generated once;
 * - `ca.p12` (the CA's key, never used outside this folder) and `ca.crt` (PEM: what clients trust);
 * - `broker.p12`: the brokers' key and certificate (SAN 127.0.0.1/localhost), signed by the CA;
 * - `admin-client.properties` (0600): the admin's Java client settings, for ScramUsers.java.
 * Certificates come from the JDK's keytool (Kafka needs a JDK/JRE anyway), idempotently: existing files are kept.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, HOST, KAFKA } from './components.js';
import { kafkaNodes, parseKafkaNodeCount, parseKafkaSecurity, resolvePorts, type KafkaBrokerSecurity } from './config.js';
import { ensureAptPackages, ensureJava } from './drivers/common.js';
import type { InfraContext } from './drivers/types.js';
import { resolveStateDir, statePaths } from './paths.js';
import { exec } from './proc.js';

export interface KafkaCredentials {
  keystore_password: string;
  /** SCRAM password per principal. */
  users: Record<string, string>;
}

export interface KafkaSecurityFiles {
  dir: string;
  credentials: string;
  ca_keystore: string;
  ca_file: string;
  keystore: string;
  admin_properties: string;
}

export function kafkaSecurityFiles(state_dir: string): KafkaSecurityFiles {
  const dir = join(state_dir, 'secrets', 'kafka');
  return {
    dir,
    credentials: join(dir, 'credentials.json'),
    ca_keystore: join(dir, 'ca.p12'),
    ca_file: join(dir, 'ca.crt'),
    keystore: join(dir, 'broker.p12'),
    admin_properties: join(dir, 'admin-client.properties'),
  };
}

/** A random URL-safe secret (no characters that need quoting in properties, JAAS or `--add-scram`). */
export function generateSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** Every principal the platform itself needs: the admin and one per service. */
export function platformPrincipals(): string[] {
  return [KAFKA.admin_principal, ...KAFKA.service_principals];
}

function writePrivate(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, path);
}

export function readKafkaCredentials(state_dir: string): KafkaCredentials | null {
  const file = kafkaSecurityFiles(state_dir).credentials;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KafkaCredentials) : null;
}

/** Reads the credentials file, creating it or adding passwords for principals that have none yet. */
export function ensureKafkaCredentials(state_dir: string): KafkaCredentials {
  const files = kafkaSecurityFiles(state_dir);
  mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  chmodSync(files.dir, 0o700);
  const creds = readKafkaCredentials(state_dir) ?? { keystore_password: generateSecret(), users: {} };
  let changed = !existsSync(files.credentials);
  for (const p of platformPrincipals()) {
    if (!creds.users[p]) {
      creds.users[p] = generateSecret();
      changed = true;
    }
  }
  if (changed) writePrivate(files.credentials, JSON.stringify(creds, null, 2) + '\n');
  return creds;
}

/** keytool beside the `java` binary (a bare `java` is looked up on PATH first). */
function keytoolOf(java: string): string {
  const path = java.includes('/')
    ? java
    : (process.env.PATH ?? '')
        .split(delimiter)
        .map((d) => join(d, java))
        .find((p) => existsSync(p));
  return path ? join(dirname(realpathSync(path)), 'keytool') : 'keytool';
}

/** Creates the CA and the broker certificate when missing (keytool; passwords through the environment, not argv). */
export async function ensureKafkaTls(ctx: InfraContext, java: string, creds: KafkaCredentials): Promise<void> {
  const files = kafkaSecurityFiles(ctx.paths.state_dir);
  if (existsSync(files.keystore) && existsSync(files.ca_file) && existsSync(files.ca_keystore)) return;
  ctx.log('kafka: creating a local certificate authority and the broker certificate (keytool)');
  for (const f of [files.keystore, files.ca_file, files.ca_keystore]) rmSync(f, { force: true });
  const keytool = keytoolOf(java);
  const env = { ...process.env, TIDEMARK_STOREPASS: creds.keystore_password };
  const log_file = ctx.paths.log('kafka');
  const kt = (args: string[], input?: string) =>
    exec(keytool, args, { env, log_file, timeout_ms: 60_000, ...(input !== undefined ? { input } : {}) });
  const days = String(KAFKA.cert_validity_days);
  const ca = ['-keystore', files.ca_keystore, '-storetype', 'PKCS12', '-storepass:env', 'TIDEMARK_STOREPASS'];
  const broker = ['-keystore', files.keystore, '-storetype', 'PKCS12', '-storepass:env', 'TIDEMARK_STOREPASS'];
  const genkey = (alias: string, cn: string, store: string[], extensions: string[] = []) =>
    kt([
      '-genkeypair',
      '-alias',
      alias,
      '-keyalg',
      'RSA',
      '-keysize',
      '2048',
      '-validity',
      days,
      '-dname',
      `CN=${cn}`,
      ...extensions,
      ...store,
    ]);
  await genkey('ca', KAFKA.ca_cn, ca, ['-ext', 'bc:c']);
  const ca_pem = (await kt(['-exportcert', '-rfc', '-alias', 'ca', ...ca])).stdout;
  await genkey('broker', KAFKA.broker_cert_cn, broker);
  const csr = (await kt(['-certreq', '-alias', 'broker', ...broker])).stdout;
  const signed = (
    await kt(
      [
        '-gencert',
        '-alias',
        'ca',
        '-rfc',
        '-validity',
        days,
        '-ext',
        `SAN=ip:${HOST},dns:localhost`,
        '-ext',
        'EKU=serverAuth,clientAuth',
        ...ca,
      ],
      csr,
    )
  ).stdout;
  // The keystore needs the CA before it accepts the CA-signed chain for the broker's key.
  const ca_tmp = `${files.ca_file}.tmp`;
  writeFileSync(ca_tmp, ca_pem);
  await kt(['-importcert', '-noprompt', '-alias', 'ca', '-file', ca_tmp, ...broker]);
  const signed_tmp = join(files.dir, 'broker.crt.tmp');
  writeFileSync(signed_tmp, signed);
  await kt(['-importcert', '-noprompt', '-alias', 'broker', '-file', signed_tmp, ...broker]);
  rmSync(signed_tmp, { force: true });
  renameSync(ca_tmp, files.ca_file);
}

/** The admin's Java client settings (for ScramUsers.java). */
export function adminClientProperties(bootstrap: string, ca_file: string, admin_password: string): string {
  return [
    `bootstrap.servers=${bootstrap}`,
    'security.protocol=SASL_SSL',
    `sasl.mechanism=${KAFKA.scram_mechanism}`,
    `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${KAFKA.admin_principal}" password="${admin_password}";`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${ca_file}`,
    '',
  ].join('\n');
}

/** The broker's security settings for its properties file; creates the credentials, CA and certificate on first use. */
export async function brokerSecurity(ctx: InfraContext, java: string): Promise<KafkaBrokerSecurity | null> {
  if (ctx.kafka_security === 'plaintext') return null;
  const creds = ensureKafkaCredentials(ctx.paths.state_dir);
  await ensureKafkaTls(ctx, java, creds);
  const files = kafkaSecurityFiles(ctx.paths.state_dir);
  writePrivate(
    files.admin_properties,
    adminClientProperties(ctx.kafka_nodes.map((n) => `${HOST}:${n.port}`).join(','), files.ca_file, creds.users[KAFKA.admin_principal]!),
  );
  return {
    keystore: files.keystore,
    keystore_password: creds.keystore_password,
    ca_file: files.ca_file,
    admin_password: creds.users[KAFKA.admin_principal]!,
  };
}

/** kafkajs settings for the infra's own probes (admin principal), or none in plaintext mode. */
export function probeClientSecurity(
  ctx: InfraContext,
): { ssl: { ca: string[] }; sasl: { mechanism: 'scram-sha-512'; username: string; password: string } } | Record<string, never> {
  if (ctx.kafka_security === 'plaintext') return {};
  const creds = readKafkaCredentials(ctx.paths.state_dir);
  const files = kafkaSecurityFiles(ctx.paths.state_dir);
  if (!creds || !existsSync(files.ca_file)) return {};
  return {
    ssl: { ca: [readFileSync(files.ca_file, 'utf8')] },
    sasl: { mechanism: 'scram-sha-512', username: KAFKA.admin_principal, password: creds.users[KAFKA.admin_principal]! },
  };
}

// ---------------------------------------------------------------- SCRAM users at run time (ScramUsers.java)

const SCRAM_TOOL = join(dirname(fileURLToPath(import.meta.url)), '..', 'java', 'ScramUsers.java');

/** Java's source-file mode needs the compiler module: a JRE-only machine gets Debian's JDK. */
async function ensureJdk(ctx: InfraContext, java: string): Promise<void> {
  const r = await exec(java, ['--list-modules'], { timeout_ms: 30_000 });
  if (!/^jdk\.compiler@/m.test(r.stdout)) {
    await ensureAptPackages(ctx, ['default-jdk-headless'], 'managing SCRAM users runs a Java source file (needs a JDK)');
  }
}

async function scramTool(ctx: InfraContext, command: 'list' | 'apply', input = ''): Promise<string[]> {
  const java = await ensureJava(ctx, 17);
  await ensureJdk(ctx, java);
  const files = kafkaSecurityFiles(ctx.paths.state_dir);
  if (!existsSync(files.admin_properties)) throw new Error('the local Kafka runs without SASL (or was never started): nothing to manage');
  const r = await exec(java, ['-Dlog4j2.level=WARN', '-cp', `${ctx.paths.kafka_libs}/*`, SCRAM_TOOL, files.admin_properties, command], {
    input,
    timeout_ms: 120_000,
  });
  return r.stdout.split('\n');
}

/** Creates or replaces SCRAM-SHA-512 credentials (password through stdin). */
export async function upsertScramUsers(ctx: InfraContext, users: Readonly<Record<string, string>>): Promise<void> {
  const lines = Object.entries(users).map(([u, p]) => `upsert\t${u}\t${p}`);
  if (lines.length > 0) await scramTool(ctx, 'apply', lines.join('\n') + '\n');
}

/** Deletes SCRAM credentials; returns the users that had none. */
export async function deleteScramUsers(ctx: InfraContext, users: readonly string[]): Promise<string[]> {
  if (users.length === 0) return [];
  const out = await scramTool(ctx, 'apply', users.map((u) => `delete\t${u}`).join('\n') + '\n');
  return out.filter((l) => l.startsWith('MISSING\t')).map((l) => l.slice('MISSING\t'.length));
}

/** Users with SCRAM credentials on the broker. */
export async function listScramUsers(ctx: InfraContext): Promise<string[]> {
  const out = await scramTool(ctx, 'list');
  return out.filter((l) => l.startsWith('USER\t')).map((l) => l.slice('USER\t'.length));
}

// ---------------------------------------------------------------- what clients need

/**
 * Client environment (TIDEMARK_KAFKA_*) for `principal` against the local broker of the state dir in `env`:
 * SASL_SSL with its password and the CA, or plaintext when the local broker runs so. Null when the local infra
 * has no credentials for it (not started yet, or an unknown principal).
 */
export function localKafkaClientEnv(principal: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> | null {
  if (parseKafkaSecurity(env[ENV.kafka_security]) === 'plaintext') return { TIDEMARK_KAFKA_SECURITY_PROTOCOL: 'plaintext' };
  const state_dir = resolveStateDir(env);
  const password = readKafkaCredentials(state_dir)?.users[principal];
  if (!password) return null;
  return {
    TIDEMARK_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
    TIDEMARK_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    TIDEMARK_KAFKA_SASL_USERNAME: principal,
    TIDEMARK_KAFKA_SASL_PASSWORD: password,
    TIDEMARK_KAFKA_SSL_CA_FILE: kafkaSecurityFiles(state_dir).ca_file,
  };
}

/** The local broker's bootstrap list and CA file (for `access grant`'s printed settings). */
export function localKafkaEndpoint(env: NodeJS.ProcessEnv = process.env): { bootstrap: string; ca_file: string | null; security: string } {
  const ports = resolvePorts(env);
  const nodes = kafkaNodes(ports, parseKafkaNodeCount(env[ENV.kafka_nodes]));
  const security = parseKafkaSecurity(env[ENV.kafka_security]);
  return {
    bootstrap: nodes.map((n) => `${HOST}:${n.port}`).join(','),
    ca_file: security === 'plaintext' ? null : kafkaSecurityFiles(resolveStateDir(env)).ca_file,
    security,
  };
}

/** statePaths for the env's state dir (used by the public SCRAM helpers). */
export function stateDirPaths(env: NodeJS.ProcessEnv = process.env) {
  return statePaths(resolveStateDir(env));
}
