/**
 * The docker-compose Kafka model on the real Kafka jars (there is no Docker engine here): deploy/container/kafka/init.sh
 * runs as the kafka-init service runs it (keytool CA and broker keystore, the committed properties templates filled
 * in, the storage formatted with every platform principal's SCRAM credential), then a broker starts on the resulting
 * server.properties, and `topics apply`'s code (applyCatalog) gives the principals their ACLs. Only what the compose
 * network provides is substituted: the volumes' paths (a temporary folder), the host name `kafka` (localhost: the
 * certificate names both) and the ports (free ones, beside the shared broker). The jars are `infra up`'s.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from 'kafkajs';
import {
  applyCatalog,
  baseConfigSchema,
  createIdempotentProducer,
  createKafka,
  loadConfig,
  RegistryClient,
  type KafkaSecurity,
} from '@tidemark/common';
import { COMPOSE_KAFKA, composeKafkaFiles, composePasswordVar, platformPrincipals, stateDirPaths } from '@tidemark/local-infra';
import { repoRoot } from '@tidemark/cli/paths';

const base = loadConfig(baseConfigSchema);
const libs = stateDirPaths().kafka_libs;
const runnable = process.env.TIDEMARK_SKIP_INTEGRATION !== '1' && existsSync(libs) && spawnSync('keytool', ['-help']).status === 0;
const prefix = `cmp${randomBytes(4).toString('hex')}.`;
const passwords = Object.fromEntries(platformPrincipals().map((p) => [p, randomBytes(24).toString('hex')]));

const ACL_PROPAGATION_MS_MAX = 20_000;

/** Runs `send` until it is not refused for authorization, for at most `within_ms`. */
async function sendWhenAuthorized(send: () => Promise<void>, within_ms: number): Promise<void> {
  const deadline = Date.now() + within_ms;
  for (;;) {
    try {
      return await send();
    } catch (err) {
      if (!/authori[sz]/i.test(String(err)) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!runnable)('docker-compose Kafka model (init.sh + generated properties) on the real broker jars', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tidemark-compose-kafka-'));
  const d = { templates: join(dir, 'templates'), secrets: join(dir, 'secrets'), ca: join(dir, 'ca'), data: join(dir, 'data') };
  let broker: ChildProcess | null = null;
  let port = 0;
  const security = (principal: string, password = passwords[principal]!): KafkaSecurity => ({
    protocol: 'sasl_ssl',
    mechanism: 'scram-sha-512',
    username: principal,
    password,
    ca_file: join(d.ca, 'ca.crt'),
  });
  const kafkaAs = (s: KafkaSecurity) =>
    createKafka({
      brokers: [`localhost:${port}`],
      client_id: 'compose-smoke',
      security: s,
      extra: { retry: { retries: 0 }, connectionTimeout: 5_000, logCreator: () => () => undefined },
    });
  let admin: Admin;

  beforeAll(async () => {
    port = await freePort();
    const controller_port = await freePort();
    mkdirSync(d.templates);
    // The committed templates, with the compose network's names replaced by this machine's.
    for (const file of Object.keys(composeKafkaFiles())) {
      const text = readFileSync(join(repoRoot(), 'deploy', 'container', 'kafka', file), 'utf8')
        .replaceAll(COMPOSE_KAFKA.secrets_dir, d.secrets)
        .replaceAll(COMPOSE_KAFKA.data_dir, d.data)
        .replaceAll(`${COMPOSE_KAFKA.host}:${COMPOSE_KAFKA.port}`, `localhost:${port}`)
        .replaceAll(`${COMPOSE_KAFKA.host}:${COMPOSE_KAFKA.controller_port}`, `localhost:${controller_port}`)
        .replaceAll(`://:${COMPOSE_KAFKA.port}`, `://localhost:${port}`)
        .replaceAll(`://:${COMPOSE_KAFKA.controller_port}`, `://localhost:${controller_port}`);
      writeFileSync(join(d.templates, file), text);
    }
    const storage = join(dir, 'kafka-storage.sh');
    writeFileSync(storage, `#!/bin/sh\nexec java -Xmx256m -cp '${libs}/*' kafka.tools.StorageTool "$@"\n`, { mode: 0o755 });
    const init = spawnSync('sh', [join(repoRoot(), 'deploy', 'container', 'kafka', 'init.sh')], {
      encoding: 'utf8',
      timeout: 180_000,
      env: {
        ...process.env,
        TIDEMARK_KAFKA_TEMPLATES_DIR: d.templates,
        TIDEMARK_KAFKA_SECRETS_DIR: d.secrets,
        TIDEMARK_KAFKA_CA_DIR: d.ca,
        TIDEMARK_KAFKA_DATA_DIR: d.data,
        TIDEMARK_KAFKA_STORAGE: storage,
        TIDEMARK_KAFKA_UID: '',
        TIDEMARK_KAFKA_PRINCIPALS: platformPrincipals().join(' '),
        ...Object.fromEntries(Object.entries(passwords).map(([p, pw]) => [composePasswordVar(p), pw])),
      },
    });
    if (init.status !== 0) throw new Error(`init.sh failed (${init.status}): ${init.stderr}`);
    // No secret on its output.
    for (const pw of Object.values(passwords)) expect(init.stdout + init.stderr).not.toContain(pw);
    const log = openSync(join(dir, 'broker.log'), 'a');
    broker = spawn('java', ['-Xmx512m', '-cp', `${libs}/*`, 'kafka.Kafka', join(d.secrets, 'server.properties')], {
      stdio: ['ignore', log, log],
    });
    admin = kafkaAs(security('tidemark-admin')).admin();
    const deadline = Date.now() + 120_000;
    for (;;) {
      try {
        await admin.connect();
        await admin.listTopics();
        break;
      } catch (err) {
        if (Date.now() > deadline || broker.exitCode !== null)
          throw new Error(
            `the compose broker did not come up: ${(err as Error).message}\n${readFileSync(join(dir, 'broker.log'), 'utf8').slice(-3000)}`,
          );
        await admin.disconnect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }, 240_000);

  afterAll(async () => {
    await admin?.disconnect().catch(() => undefined);
    if (broker && broker.exitCode === null) {
      const exited = new Promise((r) => broker!.once('exit', r));
      broker.kill('SIGTERM');
      const timer = setTimeout(() => broker!.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('leaves only the CA certificate for clients and no placeholder behind', () => {
    expect(readdirSync(d.ca)).toEqual(['ca.crt']);
    for (const file of Object.keys(composeKafkaFiles())) expect(readFileSync(join(d.secrets, file), 'utf8')).not.toMatch(/@[A-Z_]+@/);
  });

  it('authenticates every platform principal with its .env password and refuses a wrong one', async () => {
    for (const principal of platformPrincipals()) {
      const a = kafkaAs(security(principal)).admin();
      await a.connect();
      await a.disconnect();
    }
    const intruder = kafkaAs(security('tidemark-ingress', 'not-the-password')).admin();
    await expect(intruder.connect()).rejects.toThrow(/SASL|authenticat/i);
    await intruder.disconnect().catch(() => undefined);
  });

  it('authorizes by the catalog ACLs that topics apply creates: nothing before, exactly its place after', async () => {
    await admin.createTopics({ topics: [{ topic: `${prefix}probe.v1`, numPartitions: 1 }] });
    const send = async (topic: string) => {
      const producer = createIdempotentProducer(kafkaAs(security('tidemark-ingress')));
      await producer.connect();
      try {
        await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'probe' }] });
      } finally {
        await producer.disconnect();
      }
    };
    // No ACL, no access.
    await expect(send(`${prefix}probe.v1`)).rejects.toThrow(/authori[sz]/i);
    const report = await applyCatalog(admin, new RegistryClient(base.TIDEMARK_REGISTRY_URL), { prefix, secured: true });
    expect(report.acls_added.length).toBeGreaterThan(0);
    // The broker applies new ACLs when it replays them from the metadata log, a moment after the
    // controller accepted them: the first sends may still be refused (the idempotent producer's
    // InitProducerId as "cluster authorization failed"), so the granted write is retried until it lands.
    await sendWhenAuthorized(() => send(`${prefix}webhooks.received.v1`), ACL_PROPAGATION_MS_MAX);
    await expect(send(`${prefix}events.unique.v1`)).rejects.toThrow(/authori[sz]/i);
  });
});
