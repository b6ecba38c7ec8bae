/**
 * Kafka access control on the real local broker (SASL_SSL, SCRAM-SHA-512, StandardAuthorizer): an unauthenticated
 * or PLAINTEXT client cannot connect; the ingress principal writes only what the catalog says (denied writing
 * events.unique.v1, denied reading events.screened.v1); a team principal from `access grant` reads its granted
 * topic and nothing else; revoke takes effect; `topics apply` removes a service principal's ACL the catalog no longer
 * implies (in its namespace only) and keeps team grants; the console's principal (and its Postgres role, on a
 * provisioned database) lists, shows, replays and purges dead letters and is denied writing anything but the consumers' inputs and audit.v1 and reading anything but the DLQs. Producers and readers run on both clients (kafkajs and librdkafka).
 * Skipped when the local broker runs PLAINTEXT (TIDEMARK_KAFKA_SECURITY=plaintext).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import {
  aclText,
  applyAcls,
  AvroCodec,
  baseConfigSchema,
  catalogAcls,
  createConfluentKafka,
  createConfluentProducer,
  createIdempotentProducer,
  createKafka,
  describePrincipalAcls,
  kafkaConnection,
  loadCatalog,
  loadConfig,
  removeAcls,
  readerGroupPrefix,
  type AclBinding,
  type DeadLetter,
  type KafkaSecurity,
  type Logger,
} from '@tidemark/common';
import { testNamespace } from '@tidemark/common/testing';
import { localKafkaClientEnv, provisionDatabaseAt, serviceDatabaseUrl } from '@tidemark/local-infra';
import { grantTeam, listTeams, revokeTeam, type TeamClientSettings } from '@tidemark/cli/access';
import { applyTopicsFromEnv } from '@tidemark/cli/topics';
import { createTransport, listDeadLetters, openDlqContext, purgeDeadLetters, replayDeadLetters, showDeadLetter } from '@tidemark/stream';

const ns = testNamespace('acc', { client_id: 'acc-admin' });
const { config: base, prefix } = ns;
const admin_connection = kafkaConnection(base);
const secured = process.env.TIDEMARK_SKIP_INTEGRATION !== '1' && admin_connection.security.protocol === 'sasl_ssl';
const team = `it-${randomBytes(3).toString('hex')}`;
const catalog = loadCatalog();
const CLIENTS = ['kafkajs', 'confluent'] as const;
/** This run's database, provisioned for the platform's roles: the console keeps its dead-letter state there as its own role. */
const database = `acc_${prefix.slice(3, -1)}`;
const database_url = Object.assign(new URL(base.TIDEMARK_DATABASE_URL), { pathname: `/${database}` }).toString();
const dlq_state_url = serviceDatabaseUrl(database_url, 'console');
const adminTransport = createTransport(base, 'acc-admin-reader');
type Client = (typeof CLIENTS)[number];

/** A principal's client settings against the local broker (its SCRAM password from the state folder). */
function principalSecurity(principal: string): KafkaSecurity {
  const env = localKafkaClientEnv(principal);
  if (!env) throw new Error(`no local credentials for ${principal}`);
  return kafkaConnection({ ...base, ...env }).security;
}

function kafkajsAs(security: KafkaSecurity | undefined, id: string, retries = 0): Kafka {
  return createKafka({
    brokers: admin_connection.brokers,
    client_id: id,
    ...(security ? { security } : {}),
    extra: { retry: { retries, initialRetryTime: 100, maxRetryTime: 500 }, connectionTimeout: 3_000, logCreator: () => () => undefined },
  });
}

/** Sends one record as `security` with the given client; resolves or rejects with the broker's answer. */
async function sendAs(client: Client, security: KafkaSecurity, topic: string): Promise<void> {
  const record = { key: 'k', value: Buffer.from('probe') };
  if (client === 'kafkajs') {
    const producer = createIdempotentProducer(kafkajsAs(security, `acc-${client}`));
    await producer.connect();
    try {
      await producer.send({ topic, acks: -1, messages: [record] });
    } finally {
      await producer.disconnect();
    }
    return;
  }
  // A principal without any write permission cannot even get a producer id: librdkafka logs the broker's
  // authorization error and purges the record; the logged error is the answer.
  let denied: Error | null = null;
  const kafka = createConfluentKafka({
    brokers: admin_connection.brokers,
    security,
    client_id: `acc-${client}`,
    logger: errorsTo((err) => (denied ??= err)),
  });
  const producer: KafkaJS.Producer = createConfluentProducer(kafka, { delivery_timeout_ms: 10_000 });
  try {
    await producer.connect();
    await producer.send({ topic, messages: [record] });
  } catch (err) {
    // The purge can overtake the log line: give the broker's answer a moment to arrive.
    for (let i = 0; i < 30 && !denied; i++) await new Promise((r) => setTimeout(r, 100));
    throw denied ?? err;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** Reads records of `topic` from the beginning as `security` in `group`; resolves with the values seen, rejects when denied. */
async function readAs(
  client: Client,
  security: KafkaSecurity,
  topic: string,
  group: string,
  want: number,
  timeout_ms = 30_000,
): Promise<string[]> {
  const seen: string[] = [];
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const timer = setTimeout(() => fail(new Error(`read ${topic}: timed out with ${seen.length} record(s)`)), timeout_ms);
  const onMessage = (value: Buffer | null) => {
    seen.push(value?.toString() ?? '');
    if (seen.length >= want) done();
  };
  if (client === 'kafkajs') {
    const consumer = kafkajsAs(security, `acc-read-${client}`).consumer({ groupId: group, retry: { retries: 0 } });
    consumer.on(consumer.events.CRASH, (e) => fail(e.payload.error));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => onMessage(message.value) });
      await Promise.race([finished, failed]);
      return seen;
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
  }
  // librdkafka retries a denied group or topic and reports it only through the client's logger.
  const kafka = createConfluentKafka({
    brokers: admin_connection.brokers,
    security,
    client_id: `acc-read-${client}`,
    logger: errorsTo(fail),
  });
  const consumer = kafka.consumer({ kafkaJS: { groupId: group, fromBeginning: true } });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    void consumer.run({ eachMessage: async ({ message }) => onMessage(message.value) }).catch((e: Error) => fail(e));
    await Promise.race([finished, failed]);
    return seen;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
  }
}

/** A logger that turns the client's authorization errors into `fail` (everything else is dropped). */
function errorsTo(fail: (err: Error) => void): Logger {
  const sink = {
    child: () => sink,
    error: (_obj: unknown, msg: string) => {
      if (/authori[sz]ation failed/i.test(msg)) fail(new Error(msg.split('\n')[0]));
    },
    warn: (_obj: unknown, msg: string) => {
      if (/authori[sz]ation failed/i.test(msg)) fail(new Error(msg.split('\n')[0]));
    },
    info: () => undefined,
    debug: () => undefined,
  };
  return sink as unknown as Logger;
}

async function withDb<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: base.TIDEMARK_DATABASE_URL });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/** The console's settings (its own principal) for the DLQ operations of this namespace, with `client`. */
function consoleConfig(client: Client) {
  return loadConfig(baseConfigSchema, {
    ...process.env,
    ...localKafkaClientEnv('tidemark-console'),
    TIDEMARK_TOPIC_PREFIX: prefix,
    TIDEMARK_KAFKA_CLIENT: client,
    TIDEMARK_DATABASE_URL: dlq_state_url,
  });
}

async function describeAcls(admin: Admin, principals: string[]): Promise<AclBinding[]> {
  return (await Promise.all(principals.map((p) => describePrincipalAcls(admin, p)))).flat();
}

/** kafkajs reports a refused group as a coordinator it cannot find (FindCoordinator answered GROUP_AUTHORIZATION_FAILED). */
const DENIED = /authori[sz]|find group coordinator/i;

describe.skipIf(!secured)('Kafka access control (SASL_SSL + ACLs on the real broker)', () => {
  const { admin } = ns;
  let settings: TeamClientSettings;
  /** The granted team's client security, from the settings `access grant` printed. */
  const teamSecurity = (): KafkaSecurity => ({
    protocol: 'sasl_ssl',
    mechanism: 'scram-sha-512',
    username: settings.username,
    password: settings.password,
    ...(settings.ca_file ? { ca_file: settings.ca_file } : {}),
  });
  const t = ns.topic;

  beforeAll(async () => {
    await admin.connect();
    // `topics apply` for this namespace: topics, schemas and the catalog's ACLs.
    const applied = await applyTopicsFromEnv(prefix);
    expect(applied.acls_added.map(aclText).sort()).toEqual(catalogAcls(catalog, prefix).map(aclText).sort());
    // Something to read on each downstream topic, written as the admin.
    const producer = createIdempotentProducer(kafkajsAs(admin_connection.security, 'acc-seed', 5));
    await producer.connect();
    for (const topic of ['events.screened.v1', 'ledger.balances.v1'])
      await producer.send({ topic: t(topic), acks: -1, messages: [{ key: 'w', value: `seed-${topic}` }] });
    await producer.disconnect();
    settings = await grantTeam(team, ['events.screened.v1'], prefix);
    await withDb((db) => db.query(`CREATE DATABASE ${database}`));
    await provisionDatabaseAt(database_url);
  });

  afterAll(async () => {
    await revokeTeam(team).catch(() => undefined);
    await withDb((db) => db.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)).catch(() => undefined);
    await adminTransport.close().catch(() => undefined);
    await removeAcls(admin, catalogAcls(catalog, prefix)).catch(() => undefined);
    await ns.cleanup();
  });

  it('refuses a PLAINTEXT client and a wrong password', async () => {
    const plain = kafkajsAs(undefined, 'acc-plain').admin();
    await expect(plain.connect()).rejects.toThrow();
    await plain.disconnect().catch(() => undefined);
    const wrong: KafkaSecurity = { ...principalSecurity('tidemark-ingress'), password: 'not-the-password' } as KafkaSecurity;
    const intruder = kafkajsAs(wrong, 'acc-wrong').admin();
    await expect(intruder.connect()).rejects.toThrow(/SASL|authenticat/i);
    await intruder.disconnect().catch(() => undefined);
  });

  it('topics apply removes service ACLs the catalog no longer implies, in its namespace only, and keeps team grants', async () => {
    const other = `${prefix}o.`; // a second namespace (another stack) on the same broker
    const stale = (principal: string, name: string): AclBinding => ({
      principal,
      resource: 'topic',
      pattern: 'literal',
      name,
      operation: 'read',
    });
    const extras = [
      stale('tidemark-ingress', t('events.screened.v1')), // stale: the catalog never lets ingress read
      stale('tidemark-ingress', `${other}events.screened.v1`), // stale too, but another namespace's
      stale('tidemark-retired', t('audit.v1')), // a principal the catalog does not know
      ...catalogAcls(catalog, other),
    ];
    const teamsBefore = await listTeams();
    await applyAcls(admin, extras);
    try {
      const ingress_admin = kafkajsAs(principalSecurity('tidemark-ingress'), 'acc-stale-ingress').admin();
      await ingress_admin.connect();
      try {
        // The stale ACL works (ingress may look at events.screened.v1) until `topics apply` runs again.
        await ingress_admin.fetchTopicOffsets(t('events.screened.v1'));
        const report = await applyTopicsFromEnv(prefix);
        expect(report.acls_added).toEqual([]);
        expect(report.acls_removed.map((b) => `${b.principal} ${aclText(b)}`)).toEqual([
          `tidemark-ingress read topic ${t('events.screened.v1')}`,
        ]);
        await expect(ingress_admin.fetchTopicOffsets(t('events.screened.v1'))).rejects.toThrow(/authori[sz]/i);
      } finally {
        await ingress_admin.disconnect();
      }
      const left = (await describeAcls(admin, ['tidemark-ingress', 'tidemark-retired'])).map((b) => `${b.principal} ${aclText(b)}`);
      expect(left).toContain(`tidemark-ingress read topic ${other}events.screened.v1`);
      expect(left).toContain(`tidemark-retired read topic ${t('audit.v1')}`);
      expect(left).not.toContain(`tidemark-ingress read topic ${t('events.screened.v1')}`);
      // The team's grant is untouched, and a second run changes nothing.
      expect(await listTeams()).toEqual(teamsBefore);
      expect(teamsBefore.map((x) => x.principal)).toContain(settings.username);
      const again = await applyTopicsFromEnv(prefix);
      expect([again.acls_added, again.acls_removed]).toEqual([[], []]);
    } finally {
      await removeAcls(admin, extras);
    }
  });

  describe.each(CLIENTS)('with %s', (client) => {
    it('lets ingress write webhooks.received.v1 and audit.v1, and denies it events.unique.v1', async () => {
      const ingress = principalSecurity('tidemark-ingress');
      await sendAs(client, ingress, t('webhooks.received.v1'));
      await sendAs(client, ingress, t('audit.v1'));
      await expect(sendAs(client, ingress, t('events.unique.v1'))).rejects.toThrow(/authori[sz]/i);
    });

    it('denies ingress reading events.screened.v1', async () => {
      // Not even its offsets (DESCRIBE), let alone a consumer group on it.
      const ingress_admin = kafkajsAs(principalSecurity('tidemark-ingress'), 'acc-ingress-admin').admin();
      await ingress_admin.connect();
      await expect(ingress_admin.fetchTopicOffsets(t('events.screened.v1'))).rejects.toThrow(/authori[sz]/i);
      await ingress_admin.disconnect();
      await expect(
        readAs(client, principalSecurity('tidemark-ingress'), t('events.screened.v1'), `${prefix}ingress-${client}`, 1, 20_000),
      ).rejects.toThrow(DENIED);
    });

    it('lets the team read its granted topic and nothing else', async () => {
      const security = teamSecurity();
      const values = await readAs(client, security, t('events.screened.v1'), `${settings.group_prefix}${client}`, 1);
      expect(values).toEqual(['seed-events.screened.v1']);
      await expect(readAs(client, security, t('ledger.balances.v1'), `${settings.group_prefix}${client}-2`, 1, 20_000)).rejects.toThrow(
        DENIED,
      );
      // A group outside its prefix is refused even on the granted topic.
      await expect(readAs(client, security, t('events.screened.v1'), `${prefix}other-${client}`, 1, 20_000)).rejects.toThrow(DENIED);
      await expect(sendAs(client, security, t('events.screened.v1'))).rejects.toThrow(/authori[sz]/i);
    });

    it('lets the console list, show, replay and purge dead letters, and nothing else', async () => {
      // Two dead letters of dedupe, written as the runtime writes them (Avro DeadLetter on <prefix>dedupe.dlq).
      const dlq = t('dedupe.dlq');
      const codec = new AvroCodec(base.TIDEMARK_REGISTRY_URL, prefix);
      const letter = async (n: number) => ({
        key: `${client}-${n}`,
        value: await codec.encode('dedupe.dlq', {
          service: 'dedupe',
          original_topic: t('webhooks.received.v1'),
          original_partition: 0,
          original_offset: String(n),
          key: `${client}-${n}`,
          payload: Buffer.from(`payload-${client}-${n}`),
          headers: {},
          error_class: 'PERMANENT',
          error_message: 'refused by the test',
          error_stack: null,
          attempts: 1,
          first_failure_at_ms: Date.now(),
          last_failure_at_ms: Date.now(),
          traceparent: null,
        } satisfies DeadLetter),
      });
      const producer = createIdempotentProducer(kafkajsAs(admin_connection.security, 'acc-dlq-seed', 5));
      await producer.connect();
      await producer.send({ topic: dlq, acks: -1, messages: [await letter(1), await letter(2)] });
      await producer.disconnect();

      const ctx = await openDlqContext(consoleConfig(client));
      let replay_of = '';
      try {
        // Every consumer's DLQ is readable (the list reads all three); its own records are there.
        const mine = (await listDeadLetters(ctx)).entries.filter((e) => e.key?.startsWith(`${client}-`));
        expect(mine.map((e) => e.key).sort()).toEqual([`${client}-1`, `${client}-2`]);
        const [first, second] = mine.sort((a, b) => a.key!.localeCompare(b.key!));
        const shown = await showDeadLetter(ctx, first!.ref);
        expect(Buffer.from(shown!.payload_base64, 'base64').toString()).toBe(`payload-${client}-1`);
        const replayed = await replayDeadLetters(ctx, { refs: [first!.ref], actor: 'console:acc' });
        expect(replayed.replayed).toEqual([{ id: first!.id, to_topic: t('webhooks.received.v1') }]);
        replay_of = `${dlq}/${first!.ref.partition}/${first!.ref.offset}`;
        const purged = await purgeDeadLetters(ctx, { refs: [second!.ref], actor: 'console:acc' });
        expect(purged.purged).toEqual([second!.id]);
        // Both actions recorded, as the console's database role, in the provisioned state table.
        const stateOf = async (ref: { partition: number; offset: string }) =>
          (
            await ctx.pool.query<{ who: string; state: string }>(
              'SELECT current_user AS who, state FROM dlq_ops.stream_dlq_state WHERE dlq_topic = $1 AND dlq_partition = $2 AND dlq_offset = $3',
              [dlq, ref.partition, ref.offset],
            )
          ).rows;
        expect(await stateOf(first!.ref)).toEqual([{ who: 'tidemark_console', state: 'replayed' }]);
        expect(await stateOf(second!.ref)).toEqual([{ who: 'tidemark_console', state: 'purged' }]);
      } finally {
        await ctx.close();
      }
      // The replay reached dedupe's input (read back as the admin).
      const { records } = await adminTransport.readTopic(t('webhooks.received.v1'), { records_max: 1_000, timeout_ms: 20_000 });
      expect(records.filter((r) => r.value?.toString() === `payload-${client}-1`).map((r) => r.headers['tidemark-replay-of'])).toEqual([
        replay_of,
      ]);

      const console_security = principalSecurity('tidemark-console');
      // No write outside the consumers' inputs and audit.v1: not a balance, not a forged dead letter.
      await expect(sendAs(client, console_security, t('ledger.balances.v1'))).rejects.toThrow(/authori[sz]/i);
      await expect(sendAs(client, console_security, dlq)).rejects.toThrow(/authori[sz]/i);
      // No read of the event topics or the audit trail, even in a group it may use.
      const group = `${readerGroupPrefix(dlq)}${client}`;
      await expect(readAs(client, console_security, t('events.screened.v1'), group, 1, 20_000)).rejects.toThrow(DENIED);
      await expect(readAs(client, console_security, t('audit.v1'), group, 1, 20_000)).rejects.toThrow(DENIED);
      // Its DLQ only in its reader groups.
      await expect(readAs(client, console_security, dlq, `${prefix}console-${client}`, 1, 20_000)).rejects.toThrow(DENIED);
    });
  });

  it('lists the grant, and revoke takes effect', async () => {
    const listed = (await listTeams()).find((x) => x.principal === settings.username);
    expect(listed?.acls.map((a) => `${a.operation} ${a.resource} ${a.name}`).sort()).toEqual(
      [`read group ${settings.group_prefix}`, `read topic ${t('events.screened.v1')}`].sort(),
    );
    const security = teamSecurity();
    // A connection opened before the revoke loses its permissions at once; new connections fail to authenticate.
    const open = kafkajsAs(security, 'acc-open').admin();
    await open.connect();
    expect(await revokeTeam(team)).toBe(true);
    await expect(open.fetchTopicOffsets(t('events.screened.v1'))).rejects.toThrow(/authori[sz]/i);
    await open.disconnect();
    const fresh = kafkajsAs(security, 'acc-fresh').admin();
    await expect(fresh.connect()).rejects.toThrow(/SASL|authenticat/i);
    await fresh.disconnect().catch(() => undefined);
    expect((await listTeams()).map((x) => x.principal)).not.toContain(settings.username);
  });
});
