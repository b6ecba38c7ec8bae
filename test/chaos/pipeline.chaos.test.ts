/**
 * Chaos: the whole pipeline under failure (DESIGN 4, "Nothing lost, nothing doubled").
 *
 * At least TIDEMARK_CHAOS_EVENTS (default 100,000) simulator events with duplicates and
 * out-of-order delivery flow through ingress and two instances of every consumer
 * service (one consumer group each, so every restart is a rebalance) while:
 *  - a chaos loop kill -9s a random service process at random moments and restarts it;
 *  - the Kafka broker is restarted once and Postgres once, mid-run;
 *  - in cluster mode (TIDEMARK_KAFKA_NODES=3) also: kill -9 of a partition leader broker and of the
 *    active KRaft controller, and one broker down for minutes while traffic flows (cluster-faults.ts);
 *  - deliberately poisoned records are written straight into webhooks.received.v1.
 * Then, once quiescent (ledger unchanged, consumer lag 0):
 *  - every wallet/asset bucket read through the API equals the simulator's truth exactly
 *    (given the ledger's own screening decisions), every acknowledged event is in its
 *    transaction's history;
 *  - ledgerCheck is clean; the reconciler (with its conservation check over audit.v1)
 *    exits 0 for every provider;
 *  - the DLQs hold exactly the poisoned records.
 * A summary is printed and written to reports/chaos-summary.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AvroCodec, Decimal, createKafka, kafkaConnection, topicName } from '@tidemark/common';
import {
  generateSecrets,
  keysFromEnv,
  loadScenario,
  startSimulator,
  type RunningSimulator,
  type SimulationStatus,
} from '@tidemark/simulator';
import { CONSUMER_SERVICES, Stack } from '../harness/stack.js';
import {
  POISON_KEY_PREFIX,
  buildPoisonRecords,
  forEachBounded,
  groupLag,
  injectPoison,
  ledgerFingerprint,
  sizeScenario,
  sleep,
  waitFor,
  type GroupLag,
  type PoisonRecord,
} from './chaos-support.js';
import { CLUSTER_FAULT_PLAN, brokerFault, clusterMode, type BrokerFault } from './cluster-faults.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const EVENTS_MIN = Number.parseInt(process.env.TIDEMARK_CHAOS_EVENTS ?? '100000', 10);
const PROVIDERS = ['generic', 'ledgerpay', 'custodian-x'] as const;
const INSTANCES = 2;
const PORT_BASE = 28_180;
/** Every run logs to its own folder so its service logs are not interleaved with other stacks'. */
const LOG_DIR = join(process.cwd(), '.tidemark', 'logs', `chaos-${new Date().toISOString().replace(/[:.]/g, '-')}`);

// Limits (every wait is bounded).
const RUN_TIMEOUT_MS = 40 * 60_000;
const DELIVERY_TIMEOUT_MS = 25 * 60_000;
const QUIESCENCE_TIMEOUT_MS = 10 * 60_000;
const QUIESCENCE_STABLE_SAMPLES = 3;
const QUIESCENCE_INTERVAL_MS = 5_000;
const SERVICE_READY_TIMEOUT_MS = 180_000;
const POISON_INJECT_TIMEOUT_MS = 120_000;
const KILL_INTERVAL_MS: [number, number] = [6_000, 20_000];
const RESTART_DELAY_MS_MAX = 2_000;
const BROKER_RESTART_AT = 0.3;
const POSTGRES_RESTART_AT = 0.6;
const POISON_AT = 0.1;
/** After delivery, keep killing consumers while their backlog is at least this many records... */
const CHAOS_BACKLOG_MIN = 3_000;
/** ...but for no longer than this. */
const CHAOS_AFTER_DELIVERY_MS_MAX = 5 * 60_000;
const BACKLOG_POLL_MS = 3_000;
const API_CONCURRENCY = 8;
const DLQ_LIST_LIMIT = 1_000;

interface TxView {
  status: string;
  screening: { decision: string };
  history: Array<{ event_id: string }>;
}
interface BalancesView {
  wallet_id: string;
  balances: Array<{ asset: string; pending: string; available: string; held: string }>;
}

interface InfraRestart {
  component: 'kafka' | 'postgres';
  at: string;
  progress: number;
  duration_ms: number;
  error: string | null;
}

interface Summary {
  events_min: number;
  transactions: number;
  generated_events: number;
  delivery: SimulationStatus['delivery'] | null;
  ack_latency_ms: SimulationStatus['ack_latency'] | null;
  kills: Record<string, number>;
  kills_after_delivery: number;
  unexpected_exits: Record<string, number>;
  infra_restarts: InfraRestart[];
  /** Cluster mode only. */
  broker_faults: BrokerFault[];
  poison: Array<{ key: string; kind: string }>;
  durations_s: Record<string, number>;
  lag: GroupLag[];
  checks: Record<string, unknown>;
}

function randomBetween([lo, hi]: [number, number]): number {
  return lo + Math.floor(Math.random() * (hi - lo));
}

function log(line: string): void {
  process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

describe.skipIf(SKIP)('chaos: kill -9, broker and Postgres restarts, rebalances, poison', () => {
  const secrets = generateSecrets([...PROVIDERS]);
  const stack = new Stack(
    {
      port_base: PORT_BASE,
      otlp_endpoint: null,
      instances: INSTANCES,
      log_dir: LOG_DIR,
      env: { TIDEMARK_DEDUPE_RETRY_DELAYS_MS: '200,1000,3000', TIDEMARK_LOG_LEVEL: 'warn' },
    },
    secrets,
  );
  let sim: RunningSimulator | null = null;
  const summary: Summary = {
    events_min: EVENTS_MIN,
    transactions: 0,
    generated_events: 0,
    delivery: null,
    ack_latency_ms: null,
    kills: {},
    kills_after_delivery: 0,
    unexpected_exits: {},
    infra_restarts: [],
    broker_faults: [],
    poison: [],
    durations_s: {},
    lag: [],
    checks: {},
  };

  afterAll(async () => {
    await sim?.stop().catch(() => undefined);
    await stack.tearDown().catch((err) => log(`teardown: ${(err as Error).message}`));
  }, 180_000);

  it(
    `≥ ${EVENTS_MIN} events end in a ledger equal to the truth, reconciled and conserved`,
    async () => {
      const t_start = Date.now();
      const phase = (name: string, since: number) => {
        summary.durations_s[name] = Math.round((Date.now() - since) / 100) / 10;
      };

      // --- size the run and start the stack -----------------------------------------------
      const sized = sizeScenario(loadScenario('chaos'), EVENTS_MIN);
      summary.transactions = sized.scenario.traffic.transactions;
      log(`scenario chaos: ${sized.scenario.traffic.transactions} transactions → ${sized.events} events (target ≥ ${EVENTS_MIN})`);
      let t = Date.now();
      await stack.setUp();
      await stack.startAll();
      for (const s of CONSUMER_SERVICES) await waitForReady(stack, s, 2);
      phase('stack_start', t);
      log(`stack ${stack.prefix} up: ${stack.platform.names().join(', ')}`);

      const kafka = createKafka({ ...kafkaConnection(stack.base), client_id: `chaos-${stack.id}` });
      const admin = kafka.admin();
      await admin.connect();
      const pool = new pg.Pool({ connectionString: stack.database_url, max: 2 });
      pool.on('error', () => undefined);

      try {
        // --- traffic + chaos ------------------------------------------------------------------
        t = Date.now();
        sim = await startSimulator({
          scenario: sized.scenario,
          ingress_url: stack.ingress_url,
          keys: keysFromEnv([...PROVIDERS], secrets),
          listen: { host: '127.0.0.1', port: 0 },
          on_progress: (s) =>
            log(
              `sim ${s.phase}: generated ${s.generated_events}, acked ${s.delivery.events_acknowledged} distinct (${s.delivery.acknowledged} acks, ${s.delivery.duplicates} dups, ${s.delivery.retried} retried), ${s.ack_rate_per_s}/s, queued ${s.queued}`,
            ),
        });
        const running = sim;
        // Chaos lasts while events are delivered and then while the consumers still have a
        // backlog (the slowest stage runs behind ingress), bounded by CHAOS_AFTER_DELIVERY_MS_MAX.
        let delivery_done_at: number | null = null;
        let backlog = Number.POSITIVE_INFINITY;
        const delivered = running.done.finally(() => {
          delivery_done_at = Date.now();
        });
        const progress = () => running.sim.status().delivery.events_acknowledged / sized.events;
        const chaosOver = () =>
          delivery_done_at !== null && (backlog < CHAOS_BACKLOG_MIN || Date.now() - delivery_done_at > CHAOS_AFTER_DELIVERY_MS_MAX);
        const backlogPoller = (async () => {
          while (!chaosOver()) {
            await sleep(BACKLOG_POLL_MS);
            if (delivery_done_at === null) continue;
            try {
              const lags = await Promise.all(CONSUMER_SERVICES.map((s) => groupLag(admin, stack.prefix, s, inputOf(s))));
              backlog = lags.reduce((a, l) => a + l.outstanding, 0);
            } catch (err) {
              log(`backlog poll failed (retrying): ${(err as Error).message}`);
            }
          }
        })();

        const poison = await buildPoisonRecords(new AvroCodec(stack.base.TIDEMARK_REGISTRY_URL, stack.prefix));
        summary.poison = poison.map((p) => ({ key: p.key, kind: p.kind }));
        const chaos = chaosLoop(stack, kafka, poison, progress, chaosOver, () => delivery_done_at !== null, summary);

        const status = await withTimeout(delivered, DELIVERY_TIMEOUT_MS, 'the simulator to deliver every event (acknowledged or given up)');
        phase('traffic_and_chaos', t);
        t = Date.now();
        await withTimeout(
          Promise.all([chaos, backlogPoller]),
          CHAOS_AFTER_DELIVERY_MS_MAX + 5 * 60_000,
          'the chaos loop to end after delivery',
        );
        phase('chaos_after_delivery', t);
        summary.generated_events = status.generated_events;
        summary.delivery = status.delivery;
        summary.ack_latency_ms = status.ack_latency;
        log(`delivery ${status.phase}: ${JSON.stringify(status.delivery)}`);
        expect(status.phase, 'simulator run state').toBe('done');
        expect(status.generated_events).toBeGreaterThanOrEqual(EVENTS_MIN);
        expect(summary.infra_restarts.map((r) => r.component).sort()).toEqual(['kafka', 'postgres']);
        expect(
          summary.infra_restarts.every((r) => r.error === null),
          JSON.stringify(summary.infra_restarts),
        ).toBe(true);
        if (await clusterMode()) {
          expect(summary.broker_faults.map((f) => f.kind).sort()).toEqual(CLUSTER_FAULT_PLAN.map((f) => f.kind).sort());
          expect(
            summary.broker_faults.every((f) => f.error === null),
            JSON.stringify(summary.broker_faults),
          ).toBe(true);
        }

        // --- quiescence --------------------------------------------------------------------------
        t = Date.now();
        reviveExited(stack, summary);
        await stack.waitReady(SERVICE_READY_TIMEOUT_MS);
        for (const s of CONSUMER_SERVICES) await waitForReady(stack, s, 2);
        let stable = 0;
        let previous = '';
        summary.lag = await waitFor(
          'quiescence (ledger unchanged for 3 samples and consumer lag 0)',
          QUIESCENCE_TIMEOUT_MS,
          QUIESCENCE_INTERVAL_MS,
          async () => {
            reviveExited(stack, summary);
            const lags = await Promise.all(CONSUMER_SERVICES.map((s) => groupLag(admin, stack.prefix, s, inputOf(s))));
            const fingerprint = await ledgerFingerprint(pool);
            const outstanding = lags.reduce((a, l) => a + l.outstanding, 0);
            stable = fingerprint === previous && outstanding === 0 ? stable + 1 : 0;
            previous = fingerprint;
            log(
              `quiescence: ledger ${fingerprint}, lag ${lags.map((l) => `${l.group.slice(stack.prefix.length)}=${l.outstanding}(raw ${l.raw})`).join(' ')}, stable ${stable}/${QUIESCENCE_STABLE_SAMPLES}`,
            );
            return stable >= QUIESCENCE_STABLE_SAMPLES ? lags : null;
          },
        );
        phase('quiescence', t);

        // --- every acknowledged event is projected; the ledger's decisions ---------------------
        t = Date.now();
        const transactions = running.sim.truth.transactions();
        const decisions = new Map<string, string>();
        const incomplete: string[] = [];
        const wanted = transactions.filter((r) => r.events.some((e) => e.acknowledged));
        await forEachBounded(wanted, API_CONCURRENCY, async (record) => {
          const acked = new Set(record.events.filter((e) => e.acknowledged).map((e) => e.id));
          const path = `/v1/transactions/${record.tx.provider}/${encodeURIComponent(record.tx.transaction_id)}`;
          const { status: http, body } = await stack.getJson<TxView>(path);
          if (http !== 200) {
            incomplete.push(`${path}: HTTP ${http}`);
            return;
          }
          const projected = new Set(body.history.map((h) => h.event_id));
          const missing = [...acked].filter((id) => !projected.has(id));
          if (missing.length > 0) incomplete.push(`${path}: events not projected ${missing.join(',')}`);
          decisions.set(`${record.tx.provider}:${record.tx.transaction_id}`, body.screening.decision);
        });
        summary.checks.transactions_checked = wanted.length;
        summary.checks.transactions_incomplete = incomplete.length;
        expect(incomplete.slice(0, 20), `${incomplete.length} transactions incomplete`).toEqual([]);

        // --- exact ledger equality, bucket by bucket ---------------------------------------------
        const truth = running.sim.truth.balances({
          view: 'delivered',
          decide: (tx) => (decisions.get(`${tx.provider}:${tx.transaction_id}`) ?? 'ALLOW') as 'ALLOW' | 'REVIEW' | 'BLOCK',
        });
        const mismatches: string[] = [];
        let buckets = 0;
        await forEachBounded(truth, API_CONCURRENCY, async (wallet) => {
          const { status: http, body } = await stack.getJson<BalancesView>(`/v1/wallets/${encodeURIComponent(wallet.wallet_id)}/balances`);
          if (http !== 200) {
            mismatches.push(`${wallet.wallet_id}: HTTP ${http}`);
            return;
          }
          for (const line of wallet.balances) {
            const got = body.balances.find((b) => b.asset === line.asset) ?? { pending: '0', available: '0', held: '0' };
            for (const bucket of ['pending', 'available', 'held'] as const) {
              buckets++;
              if (!new Decimal(got[bucket]).eq(new Decimal(line[bucket])))
                mismatches.push(`${wallet.wallet_id} ${line.asset} ${bucket}: ledger ${got[bucket]} truth ${line[bucket]}`);
            }
          }
          // Nothing in the ledger that the truth does not know about.
          for (const b of body.balances) {
            if (wallet.balances.some((l) => l.asset === b.asset)) continue;
            if (![b.pending, b.available, b.held].every((v) => new Decimal(v).isZero()))
              mismatches.push(`${wallet.wallet_id} ${b.asset}: ledger has a balance the truth does not`);
          }
        });
        summary.checks.wallets_compared = truth.length;
        summary.checks.buckets_compared = buckets;
        summary.checks.bucket_mismatches = mismatches.length;
        phase('verify_ledger', t);
        expect(mismatches.slice(0, 20), `${mismatches.length} bucket mismatches`).toEqual([]);
        expect(buckets).toBeGreaterThan(100);

        // --- ledger invariants --------------------------------------------------------------------
        const { ledgerCheck } = await import('@tidemark/ledger-projector');
        const check = (await ledgerCheck(pool)) as { ok: boolean; violations: unknown[] };
        summary.checks.ledger_check_ok = check.ok;
        expect(check.violations).toEqual([]);
        expect(check.ok).toBe(true);

        // --- dead letters: exactly the poisoned records ---------------------------------------
        const dlq = await deadLetters(stack);
        summary.checks.dead_letters = dlq.map((d) => ({ service: d.service, key: d.key, error: d.error_message.slice(0, 120) }));
        const unexpected = dlq.filter((d) => !(d.key ?? '').startsWith(POISON_KEY_PREFIX));
        expect(
          unexpected.map((d) => `${d.service} ${d.key}: ${d.error_message}`),
          'dead letters that are not the poisoned records',
        ).toEqual([]);
        expect(dlq.every((d) => d.service === 'dedupe')).toBe(true);
        expect([...new Set(dlq.map((d) => d.key))].sort()).toEqual(poison.map((p) => p.key).sort());
        expect(dlq.length, 'each poisoned record dead-lettered exactly once').toBe(poison.length);

        // --- the reconciler (statements + conservation over audit.v1) ---------------------------
        t = Date.now();
        const { reconcileCommand } = await import('@tidemark/reconciler');
        const previous_env = { ...process.env };
        Object.assign(process.env, { TIDEMARK_TOPIC_PREFIX: stack.prefix, TIDEMARK_DATABASE_URL: stack.database_url });
        const codes: Record<string, number> = {};
        try {
          for (const provider of PROVIDERS) {
            codes[provider] = await reconcileCommand({
              provider,
              since: new Date(t_start - 3600_000).toISOString(),
              statementsUrl: `${running.url}/providers/${provider}`,
              json: false,
              report: `reports/chaos-reconcile-${provider}.json`,
            });
          }
        } finally {
          process.env = previous_env;
        }
        phase('reconcile', t);
        summary.checks.reconcile_exit_codes = codes;
        expect(codes).toEqual(Object.fromEntries(PROVIDERS.map((p) => [p, 0])));
      } finally {
        summary.durations_s.total = Math.round((Date.now() - t_start) / 100) / 10;
        printSummary(summary);
        await admin.disconnect().catch(() => undefined);
        await pool.end().catch(() => undefined);
      }
    },
    RUN_TIMEOUT_MS,
  );
});

// ------------------------------------------------------------------ chaos loop

const KILL_TARGETS = ['ingress#1', ...CONSUMER_SERVICES.flatMap((s) => Array.from({ length: INSTANCES }, (_, i) => `${s}#${i + 1}`))];

/**
 * Until delivery is done: every few seconds kill -9 a random service process and start
 * it again; at set points of the run restart the broker, then Postgres, and inject the
 * poisoned records. Processes that died on their own are restarted and counted.
 */
async function chaosLoop(
  stack: Stack,
  kafka: ReturnType<typeof createKafka>,
  poison: PoisonRecord[],
  progress: () => number,
  done: () => boolean,
  consumers_only: () => boolean,
  summary: Summary,
): Promise<void> {
  const { restartComponent } = await import('@tidemark/local-infra');
  let poisoned = false;
  const cluster = await clusterMode();
  const admin = kafka.admin();
  if (cluster) await admin.connect();
  const restored: Promise<void>[] = [];
  const faultDue = (all: boolean) =>
    cluster
      ? CLUSTER_FAULT_PLAN.find((f) => !summary.broker_faults.some((b) => b.kind === f.kind) && (all || progress() >= f.at))
      : undefined;
  const runFault = async (kind: BrokerFault['kind']) => {
    const p = Math.round(progress() * 1000) / 10;
    const { fault, restored: back } = await brokerFault(kind, {
      admin,
      topic: topicName('webhooks.received.v1', stack.prefix),
      progress: p,
      log,
    });
    summary.broker_faults.push(fault);
    restored.push(back);
  };
  const restartInfra = async (component: 'kafka' | 'postgres') => {
    const t0 = Date.now();
    const at = new Date(t0).toISOString();
    const p = Math.round(progress() * 1000) / 10;
    log(`restarting ${component} at ${p}% of events acknowledged`);
    let error: string | null = null;
    try {
      await restartComponent(component, { log: (line) => log(`  ${line}`) });
    } catch (err) {
      error = (err as Error).message;
    }
    summary.infra_restarts.push({ component, at, progress: p, duration_ms: Date.now() - t0, error });
    log(`${component} restarted in ${Date.now() - t0} ms${error ? ` with error: ${error}` : ''}`);
  };

  while (!done()) {
    const wait_ms = randomBetween(KILL_INTERVAL_MS);
    const until = Date.now() + wait_ms;
    while (Date.now() < until && !done()) await sleep(500);
    if (done()) break;
    reviveExited(stack, summary);

    if (!poisoned && progress() >= POISON_AT) {
      poisoned = true;
      await injectPoison(kafka, stack.prefix, poison, POISON_INJECT_TIMEOUT_MS);
      log(`injected ${poison.length} poisoned records into webhooks.received.v1`);
    }
    const fault = faultDue(false);
    if (fault) {
      await runFault(fault.kind);
      continue;
    }
    if (!summary.infra_restarts.some((r) => r.component === 'kafka') && progress() >= BROKER_RESTART_AT) {
      await restartInfra('kafka');
      continue;
    }
    if (!summary.infra_restarts.some((r) => r.component === 'postgres') && progress() >= POSTGRES_RESTART_AT) {
      await restartInfra('postgres');
      continue;
    }
    // Once every event is acknowledged, killing ingress tests nothing: pick consumers only.
    const targets = consumers_only() ? KILL_TARGETS.filter((n) => !n.startsWith('ingress')) : KILL_TARGETS;
    const victim = targets[Math.floor(Math.random() * targets.length)]!;
    if (!stack.platform.isRunning(victim)) continue;
    const delay_ms = Math.floor(Math.random() * RESTART_DELAY_MS_MAX);
    await stack.platform.crashAndRestart(victim, delay_ms);
    summary.kills[victim] = (summary.kills[victim] ?? 0) + 1;
    if (consumers_only()) summary.kills_after_delivery++;
    log(
      `kill -9 ${victim}, restarted after ${delay_ms} ms (${Math.round(progress() * 1000) / 10}% acknowledged${consumers_only() ? ', delivery done, consumers catching up' : ''})`,
    );
  }
  // A run too short to reach the restart points still restarts the broker and Postgres once each.
  if (!poisoned) {
    await injectPoison(kafka, stack.prefix, poison, POISON_INJECT_TIMEOUT_MS);
    log(`injected ${poison.length} poisoned records into webhooks.received.v1 (after delivery)`);
  }
  for (const c of ['kafka', 'postgres'] as const) if (!summary.infra_restarts.some((r) => r.component === c)) await restartInfra(c);
  for (let f = faultDue(true); f; f = faultDue(true)) await runFault(f.kind);
  // Every broker is up again before the run is judged.
  await Promise.all(restored);
  if (cluster) await admin.disconnect();
}

/** A supervisor's job: start again any service process that exited without being killed by the loop. */
function reviveExited(stack: Stack, summary: Summary): void {
  for (const name of [...KILL_TARGETS, 'risk-api#1']) {
    if (stack.platform.isRunning(name)) continue;
    const [service, instance] = name.split('#') as [Parameters<Stack['startService']>[0], string];
    summary.unexpected_exits[name] = (summary.unexpected_exits[name] ?? 0) + 1;
    log(
      `${name} had exited on its own (${stack.platform.lastExit(name) ?? 'how unknown'}); starting it again (see ${LOG_DIR}/${name.replace('#', '_')}.log)`,
    );
    stack.startService(service, Number(instance));
  }
}

// ------------------------------------------------------------------ helpers

function inputOf(service: string): string {
  return { dedupe: 'webhooks.received.v1', 'compliance-screening': 'events.unique.v1', 'ledger-projector': 'events.screened.v1' }[service]!;
}

async function waitForReady(stack: Stack, service: (typeof CONSUMER_SERVICES)[number], instance: number): Promise<void> {
  const { waitForHttp } = await import('@tidemark/cli/platform');
  await waitForHttp(`http://127.0.0.1:${stack.portOf(service, instance)}/readyz`, SERVICE_READY_TIMEOUT_MS);
}

async function deadLetters(stack: Stack) {
  const { openDlqContext, listDeadLetters } = await import('@tidemark/stream');
  // The stack's base settings carry the broker's client security (SASL_SSL on the default local broker).
  const ctx = await openDlqContext({ ...stack.base, TIDEMARK_DATABASE_URL: stack.database_url, TIDEMARK_TOPIC_PREFIX: stack.prefix });
  try {
    const { entries, complete } = await listDeadLetters(ctx, { include_resolved: true, limit: DLQ_LIST_LIMIT });
    if (!complete) throw new Error(`more than ${DLQ_LIST_LIMIT} dead letters (or a DLQ could not be read completely)`);
    return entries;
  } finally {
    await ctx.close();
  }
}

async function withTimeout<T>(promise: Promise<T>, timeout_ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout_ms} ms waiting for ${what}`)), timeout_ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function printSummary(s: Summary): void {
  const dir = join(process.cwd(), 'reports');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'chaos-summary.json'), `${JSON.stringify(s, null, 2)}\n`);
  const d = s.delivery;
  const lines = [
    '',
    '=== chaos summary ===',
    `events         ${s.generated_events} generated (target ≥ ${s.events_min}) in ${s.transactions} transactions`,
    d
      ? `delivery       ${d.attempts} attempts, ${d.acknowledged} acks (${d.events_acknowledged} distinct events), ${d.duplicates} duplicates, ${d.reordered} reordered, ${d.retried} retried, ${d.rejected} rejected, ${d.errors} errors, ${d.abandoned} abandoned`
      : 'delivery       (not finished)',
    s.ack_latency_ms ? `ack latency    ${JSON.stringify(s.ack_latency_ms)}` : '',
    `kills          ${
      Object.entries(s.kills)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'none'
    } (total ${Object.values(s.kills).reduce((a, b) => a + b, 0)}, ${s.kills_after_delivery} after delivery while consumers caught up)`,
    `unexpected     ${
      Object.entries(s.unexpected_exits)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ') || 'none'
    }`,
    ...s.infra_restarts.map(
      (r) => `restart        ${r.component} at ${r.at} (${r.progress}% acked), ${r.duration_ms} ms${r.error ? `, ERROR ${r.error}` : ''}`,
    ),
    `poison         ${s.poison.map((p) => `${p.key} (${p.kind})`).join('; ')}`,
    `durations s    ${JSON.stringify(s.durations_s)}`,
    `final lag      ${s.lag.map((l) => `${l.group}=${l.outstanding} (raw ${l.raw}, ${l.partitions} partitions)`).join(' ')}`,
    `checks         ${JSON.stringify(s.checks)}`,
    `logs           ${LOG_DIR}`,
    'report         reports/chaos-summary.json',
  ];
  process.stdout.write(`${lines.filter(Boolean).join('\n')}\n`);
}
