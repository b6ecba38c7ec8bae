import { describe, expect, it } from 'vitest';
import { renderMarkdown, selectBenches, summarize, type BenchReport, sideBySide, selectClients } from './bench.js';

describe('selectBenches', () => {
  it('selects all by default, keeps the run order, and accepts comma lists', () => {
    expect(selectBenches(undefined)).toEqual(['ingress', 'dedupe', 'screening', 'ledger', 'hop', 'e2e']);
    expect(selectBenches(['e2e', 'ingress,ledger'])).toEqual(['ingress', 'ledger', 'e2e']);
  });
  it('rejects unknown names', () => {
    expect(() => selectBenches(['nope'])).toThrow(/unknown benchmark "nope"/);
  });
});

describe('summarize', () => {
  it('takes the headline figures and ratios of each report', () => {
    const ledger = summarize('ledger', {
      events: 100000,
      goal_events_per_s: 10000,
      handler: { events_per_s: 14539, node_cpu_us_per_event: 52.5 },
      runtime: { events_per_s: 8808, node_cpu_us_per_event: 157.5 },
      instances: [
        { instances: 1, events_per_s: 6400 },
        { instances: 2, events_per_s: 7040 },
      ],
    });
    expect(ledger.map((r) => [r.value, r.ratio])).toEqual([
      ['14539/s', '1.45'],
      ['8808/s', '0.88'],
      ['158 µs', '3.00'],
      ['6400/s', '1.00'],
      ['7040/s', '1.10'],
    ]);
    const e2e = summarize('e2e', {
      goal: { p99_received_to_projected_ms_max: 250 },
      highest_rate_meeting_goal_per_s: 1000,
      runs: [
        {
          phase: 'fixed',
          offered_rate_per_s: 1000,
          steady_s: 300,
          received_rate_steady_per_s: 999,
          projected_rate_steady_per_s: 995,
          received_to_projected: { p50_ms: 50, p90_ms: 100, p99_ms: 200, max_ms: 900 },
          received_to_screened: null,
          ack_latency_ms: { p50: 5, p90: 9, p99: 30 },
          backlog_at_send_end: 10,
          drain_s: 1.5,
          kept_up: true,
          kept_up_reasons: [],
          meets_goal: true,
        },
      ],
    });
    const p99 = e2e.find((r) => r.figure.endsWith('received→projected p99'))!;
    expect(p99).toMatchObject({ value: '200 ms', reference: 'goal ≤ 250 ms', ratio: '0.80' });
    expect(e2e.find((r) => r.figure.endsWith('received→screened p50 / p90 / p99'))!.value).toBe('n/a');
    expect(e2e.at(-1)!.value).toBe('1000/s');
  });
  it('survives reports of an unexpected shape', () => {
    expect(summarize('ingress', {})).toEqual([]);
    expect(summarize('dedupe', { events_per_s: 'fast' })[0]!.value).toBe('n/a');
  });
});

describe('renderMarkdown', () => {
  it('writes a header with date, commit and load, and one table row per figure', () => {
    const report: BenchReport = {
      at: '2026-11-23T12:00:00.000Z',
      finished_at: '2026-11-23T12:10:00.000Z',
      git_commit: 'abc1234',
      machine: { cpus: 2, cpu_model: 'X', node: 'v20', load_average_start: [3.5, 2, 1], load_average_end: [1, 1, 1] },
      mode: 'quick',
      outcomes: [
        { name: 'dedupe', client: null, exit_code: 0, duration_s: 12, report_file: 'reports/dedupe-bench.json', report: {}, error: null },
      ],
      rows: [{ bench: 'dedupe', figure: 'events/s | x', value: '14724/s', reference: 'e2e goal 1000/s', ratio: '14.72' }],
    };
    const text = renderMarkdown(report);
    expect(text).toContain('git abc1234');
    expect(text).toContain('contended');
    expect(text).toContain('| dedupe | events/s \\| x | 14724/s | e2e goal 1000/s | 14.72 |');
  });
});

describe('side by side per Kafka client', () => {
  const outcome = (client: 'confluent' | 'kafkajs', events_per_s: number) => ({
    name: 'dedupe' as const,
    client,
    exit_code: 0,
    duration_s: 1,
    report_file: `reports/dedupe-bench.${client}.json`,
    report: { events_per_s, deliveries: 100 },
    error: null,
  });

  it('puts each client’s figure next to the other’s, with the ratio to the first client', () => {
    const rows = sideBySide([outcome('confluent', 20_000), outcome('kafkajs', 10_000)]);
    expect(rows.map((r) => r.figure)).toEqual([
      '[confluent] events/s (100 deliveries, 1 instance)',
      '[kafkajs] events/s (100 deliveries, 1 instance)',
    ]);
    expect(rows[0]!.value).toBe('20000/s');
    expect(rows[1]!.reference).toContain('×0.50 vs confluent');
  });

  it('validates client names', () => {
    expect(selectClients(undefined)).toEqual(['confluent', 'kafkajs']);
    expect(selectClients(['kafkajs'])).toEqual(['kafkajs']);
    expect(() => selectClients(['rdkafka'])).toThrow(/unknown Kafka client "rdkafka"/);
  });
});
