/**
 * Hostile-input campaign against ingress (issue 15): fast-check generates TIDEMARK_FUZZ_CASES
 * (default 10,000) cases (signature headers, timestamps, encodings, JSON shapes, sizes, slow
 * and truncated bodies, header floods, routing and IP allowlists, every provider profile),
 * about a fifth of them valid deliveries, and sends them over raw sockets to a real ingress
 * process of a whole platform stack (real Kafka, registry, dedupe, screening, ledger projector,
 * Postgres). It then checks:
 *  - 0 forged or malformed requests accepted; every valid delivery accepted (202);
 *  - every status one of the documented ones, and the one the contract gives that case;
 *    every rejection a JSON {error, message};
 *  - no crash: ingress still running, healthy and ready at the end, no 5xx, no handler failure logged;
 *  - no configured secret in any response body or any log line of any service;
 *  - every 202 exactly once in webhooks.received.v1, and every accepted event exactly once
 *    in the ledger (its own wallet's balance equals its amount, redeliveries included).
 *
 * Replay: the seed is printed; TIDEMARK_FUZZ_SEED=<seed> TIDEMARK_FUZZ_CASES=<n> npm run test:fuzz.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AvroCodec, topicName, type CanonicalEvent } from '@tidemark/common';
import { createTransport } from '@tidemark/stream';
import { CONSUMER_SERVICES, Stack } from '../harness/stack.js';
import {
  buildCase,
  DOCUMENTED_STATUSES,
  PROXIED_ALLOWED_CIDR,
  RESTRICTED_ALLOWED_CIDR,
  sampleCases,
  type BuiltCase,
  type LedgerExpectation,
  type Secrets,
} from './ingress-cases.js';
import { rawExchange, type RawAnswer } from './raw-http.js';

const SKIP = process.env.TIDEMARK_SKIP_INTEGRATION === '1';
const CASES = Number(process.env.TIDEMARK_FUZZ_CASES ?? 10_000);
const SEED = process.env.TIDEMARK_FUZZ_SEED !== undefined ? Number(process.env.TIDEMARK_FUZZ_SEED) : randomBytes(4).readInt32LE(0);
const CONCURRENCY = Number(process.env.TIDEMARK_FUZZ_CONCURRENCY ?? 16);
/** Ports base+0..5 (see Stack); apart from the other suites' bases. */
const PORT_BASE = 19_660;
const LEDGER_TIMEOUT_MS = 240_000;

const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
const text = (prefix: string) => `${prefix}${randomBytes(24).toString('hex')}`;
const secrets: Secrets = {
  generic: [whsec(), whsec()],
  ledgerpay: [text('lp_live_'), text('lp_live_')],
  'custodian-x': [text('cx_'), text('cx_')],
};
const foreign_secret = { whsec: whsec(), text: text('forged_') };
const ALL_SECRETS = [...secrets.generic, ...secrets.ledgerpay, ...secrets['custodian-x']];
/** A secret's distinctive part: the whole string and, for whsec_, the base64 key alone. */
const SECRET_NEEDLES = ALL_SECRETS.flatMap((s) => (s.startsWith('whsec_') ? [s, s.slice('whsec_'.length)] : [s]));

interface Outcome {
  index: number;
  built: BuiltCase;
  answers: RawAnswer[];
}

function writeProviders(dir: string): string {
  const shipped = JSON.parse(readFileSync(new URL('../../services/ingress/config/providers.json', import.meta.url), 'utf8')) as {
    providers: unknown[];
  };
  const file = join(dir, 'providers.json');
  const generic = { type: 'standard-webhooks' };
  writeFileSync(
    file,
    JSON.stringify({
      providers: [
        ...shipped.providers,
        {
          id: 'restricted',
          scheme: generic,
          secrets_env: 'TIDEMARK_GENERIC_SECRETS',
          ip_allowlist: [RESTRICTED_ALLOWED_CIDR],
          mapper: 'generic',
        },
        {
          id: 'proxied',
          scheme: generic,
          secrets_env: 'TIDEMARK_GENERIC_SECRETS',
          ip_allowlist: [PROXIED_ALLOWED_CIDR],
          trusted_proxies: ['127.0.0.1/32'],
          mapper: 'generic',
        },
      ],
    }),
  );
  return file;
}

async function forEachBounded<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Reads every record of `base_topic` up to its high watermarks, decoded (no consumer group). */
async function readAll<T>(stack: Stack, base_topic: string, timeout_ms = 120_000): Promise<T[]> {
  const topic = topicName(base_topic, stack.prefix);
  const transport = createTransport(stack.base, `fuzz-reader-${stack.id}`);
  const codec = new AvroCodec(stack.base.TIDEMARK_REGISTRY_URL, stack.prefix);
  try {
    const { records, complete } = await transport.readTopic(topic, { records_max: 1_000_000, timeout_ms });
    if (!complete) throw new Error(`read only ${records.length} records of ${topic} within ${timeout_ms} ms`);
    return await Promise.all(records.map((r) => codec.decode<T>(r.value!)));
  } finally {
    await transport.close();
  }
}

/** Strips a decimal string to its canonical form ("0.500" → "0.5", "007" → "7"). */
function canonicalDecimal(value: string): string {
  let [whole = '0', fraction = ''] = value.split('.');
  whole = whole.replace(/^0+(?=\d)/, '');
  fraction = fraction.replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}

describe.skipIf(SKIP)(`ingress hostile-input fuzz (${CASES} cases, seed ${SEED})`, () => {
  let stack: Stack;
  let dir: string;
  const outcomes: Outcome[] = [];
  let duration_ms = 0;

  beforeAll(async () => {
    console.log(
      `ingress fuzz: seed ${SEED}, ${CASES} cases, concurrency ${CONCURRENCY} ` +
        `(replay: TIDEMARK_FUZZ_SEED=${SEED} TIDEMARK_FUZZ_CASES=${CASES} npm run test:fuzz)`,
    );
    dir = mkdtempSync(join(tmpdir(), 'tidemark-fuzz-'));
    stack = new Stack(
      {
        port_base: PORT_BASE,
        otlp_endpoint: null,
        log_dir: join(dir, 'logs'),
        env: {
          TIDEMARK_GENERIC_SECRETS: secrets.generic.join(','),
          TIDEMARK_LEDGERPAY_SECRETS: secrets.ledgerpay.join(','),
          TIDEMARK_CUSTODIAN_X_SECRETS: secrets['custodian-x'].join(','),
          TIDEMARK_INGRESS_PROVIDERS_FILE: writeProviders(dir),
          TIDEMARK_INGRESS_HEADERS_TIMEOUT_MS: '1000',
          TIDEMARK_INGRESS_REQUEST_TIMEOUT_MS: '5000',
        },
      },
      {},
    );
    await stack.setUp();
    // Ingress at debug level: the widest log surface for the secret check.
    stack.startService('risk-api');
    stack.startService('ingress', 1, { TIDEMARK_LOG_LEVEL: 'debug' });
    for (const s of CONSUMER_SERVICES) stack.startService(s);
    await stack.waitReady();
  });

  afterAll(async () => {
    await stack?.tearDown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`sends ${CASES} generated cases; every answer is a documented status, the one the contract gives the case`, async () => {
    const specs = sampleCases(SEED, CASES);
    const started = Date.now();
    await forEachBounded(
      specs.map((spec, index) => ({ spec, index })),
      CONCURRENCY,
      async ({ spec, index }) => {
        // Built (and signed) at send time, so "fresh" timestamps are fresh.
        const built = buildCase(spec, { index, secrets, foreign_secret, now_ms: Date.now() });
        const answers: RawAnswer[] = [];
        for (const request of built.requests) answers.push(await rawExchange(stack.portOf('ingress'), request.steps, request.deadline_ms));
        outcomes.push({ index, built, answers });
      },
    );
    duration_ms = Date.now() - started;

    const histogram: Record<string, number> = {};
    const by_family: Record<string, Record<string, number>> = {};
    for (const o of outcomes)
      for (const a of o.answers) {
        histogram[a.status] = (histogram[a.status] ?? 0) + 1;
        const family = o.built.label.split('/')[0]!;
        by_family[family] ??= {};
        by_family[family][a.status] = (by_family[family][a.status] ?? 0) + 1;
      }
    const requests = outcomes.reduce((n, o) => n + o.answers.length, 0);
    const summary = { seed: SEED, cases: CASES, requests, duration_ms, concurrency: CONCURRENCY, statuses: histogram, by_family };
    console.log(`ingress fuzz: ${JSON.stringify(summary)}`);
    mkdirSync(new URL('../../reports/fuzz/', import.meta.url), { recursive: true });
    writeFileSync(new URL('../../reports/fuzz/ingress-fuzz.json', import.meta.url), `${JSON.stringify(summary, null, 2)}\n`);

    const documented = new Set<number>(DOCUMENTED_STATUSES);
    const wrong: string[] = [];
    for (const o of outcomes)
      o.answers.forEach((a, n) => {
        const where = `case ${o.index} (${o.built.label}) request ${n}`;
        if (a.timed_out) wrong.push(`${where}: no answer within ${o.built.requests[n]!.deadline_ms} ms`);
        else if (a.status !== 0 && !documented.has(a.status))
          wrong.push(`${where}: undocumented status ${a.status} ${a.body.toString('utf8')}`);
        else if (!o.built.allowed.includes(a.status))
          wrong.push(
            `${where}: status ${a.status}, expected one of ${o.built.allowed.join('|')}: ${a.body.toString('utf8').slice(0, 300)}`,
          );
        else if (a.status !== 0 && a.status !== 202) {
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(a.body.toString('utf8'));
          } catch {
            /* reported below */
          }
          const p = parsed as { error?: unknown; message?: unknown } | null;
          if (typeof p?.error !== 'string' || typeof p.message !== 'string' || Object.keys(p).length !== 2)
            wrong.push(`${where}: status ${a.status} without a JSON {error, message} body: ${a.body.toString('utf8').slice(0, 200)}`);
        }
      });
    expect(wrong.slice(0, 20), `${wrong.length} wrong answers (seed ${SEED})`).toEqual([]);
    expect(requests).toBeGreaterThanOrEqual(CASES);
  });

  it('accepts 0 forged or malformed requests, and every valid delivery', () => {
    const hostile = outcomes.filter((o) => o.built.hostile !== null);
    const forged_accepted = hostile.filter((o) => o.answers.some((a) => a.status === 202));
    console.log(
      `ingress fuzz: ${hostile.filter((o) => o.built.hostile === 'forged').length} forged, ` +
        `${hostile.filter((o) => o.built.hostile === 'malformed').length} malformed, ${forged_accepted.length} of them accepted`,
    );
    expect(forged_accepted.map((o) => `${o.index} ${o.built.label}`)).toEqual([]);
    const must = outcomes.filter((o) => o.built.must_accept);
    expect(must.length).toBeGreaterThan(CASES / 10);
    expect(must.filter((o) => o.answers.some((a) => a.status !== 202)).map((o) => `${o.index} ${o.built.label}`)).toEqual([]);
  });

  it('ingress did not crash: still running, healthy and ready, and logged no handler failure', async () => {
    expect(stack.platform.isRunning('ingress#1')).toBe(true);
    expect((await fetch(`${stack.ingress_url}/healthz`)).status).toBe(200);
    expect((await fetch(`${stack.ingress_url}/readyz`)).status).toBe(200);
    const log = readFileSync(join(stack.platform.log_dir, 'ingress_1.log'), 'utf8');
    expect(log.split('\n').filter((l) => /webhook handler failed|uncaught|unhandled/i.test(l))).toEqual([]);
  });

  it('no configured secret in any response body or any log line of any service', () => {
    const bodies = outcomes.flatMap((o) => o.answers.map((a) => a.body.toString('utf8'))).join('\n');
    const logs = readdirSync(stack.platform.log_dir)
      .map((f) => readFileSync(join(stack.platform.log_dir, f), 'utf8'))
      .join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const needle of SECRET_NEEDLES) {
      expect(bodies.includes(needle), 'secret in a response body').toBe(false);
      expect(logs.includes(needle), 'secret in a log line').toBe(false);
    }
  });

  it('every 202 is exactly once in webhooks.received.v1, and nothing else is', async () => {
    const accepted_ids = new Map<string, Outcome>();
    for (const o of outcomes)
      for (const a of o.answers) if (a.status === 202) accepted_ids.set((JSON.parse(a.body.toString('utf8')) as { id: string }).id, o);
    const events = await readAll<CanonicalEvent>(stack, 'webhooks.received.v1');
    const seen = new Map<string, number>();
    for (const e of events) seen.set(e.ingress_id, (seen.get(e.ingress_id) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n !== 1)).toEqual([]);
    expect([...seen.keys()].filter((id) => !accepted_ids.has(id))).toEqual([]);
    expect([...accepted_ids.keys()].filter((id) => !seen.has(id))).toEqual([]);
    for (const e of events) {
      const o = accepted_ids.get(e.ingress_id)!;
      expect(o.built.hostile, `${e.event_id} came from a hostile case`).toBeNull();
      if (o.built.ledger) expect(e.event_id).toBe(o.built.ledger.event_id);
    }
  });

  it('every accepted event is exactly once in the ledger: its wallet holds exactly its amount', async () => {
    const expected = new Map<string, LedgerExpectation>();
    for (const o of outcomes)
      if (o.built.ledger && o.answers.some((a) => a.status === 202))
        expected.set(`${o.built.ledger.provider}/${o.built.ledger.event_id}`, o.built.ledger);
    const hostile_ids = outcomes.filter((o) => o.built.hostile !== null).map((o) => o.built.event_id);
    const pool = new pg.Pool({ connectionString: stack.database_url, max: 2 });
    try {
      const deadline = Date.now() + LEDGER_TIMEOUT_MS;
      let missing: string[] = [...expected.keys()];
      while (missing.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2_000));
        const { rows } = await pool.query<{ key: string }>(`SELECT provider || '/' || event_id AS key FROM ledger.processed_events`);
        const have = new Set(rows.map((r) => r.key));
        missing = [...expected.keys()].filter((k) => !have.has(k));
      }
      expect(missing.slice(0, 20), `${missing.length} of ${expected.size} accepted events not in the ledger`).toEqual([]);

      const wallets = [...expected.values()].map((e) => e.wallet_id);
      const { rows } = await pool.query<{ wallet_id: string; total: string; assets: string }>(
        `SELECT wallet_id, SUM(pending + available + held)::text AS total, COUNT(*)::text AS assets
           FROM ledger.balances WHERE wallet_id = ANY($1) GROUP BY wallet_id`,
        [wallets],
      );
      const totals = new Map(rows.map((r) => [r.wallet_id, r]));
      const wrong = [...expected.values()]
        .filter(
          (e) => totals.get(e.wallet_id)?.assets !== '1' || canonicalDecimal(totals.get(e.wallet_id)!.total) !== canonicalDecimal(e.amount),
        )
        .map(
          (e) =>
            `${e.provider}/${e.event_id} ${e.wallet_id}: expected ${e.amount}, ledger ${JSON.stringify(totals.get(e.wallet_id) ?? null)}`,
        );
      expect(wrong.slice(0, 20), `${wrong.length} wallets off`).toEqual([]);

      const leaked = await pool.query(`SELECT provider, event_id FROM ledger.processed_events WHERE event_id = ANY($1)`, [hostile_ids]);
      expect(leaked.rows).toEqual([]);
      console.log(`ingress fuzz: ${expected.size} accepted events, each exactly once in the ledger`);
    } finally {
      await pool.end();
    }
  });
});
