import { describe, expect, it } from 'vitest';
import { createMetrics, wantsOpenMetrics } from './metrics.js';

const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('metrics rendering', () => {
  it('serves OpenMetrics with the trace id as exemplar to Prometheus, plain text to everyone else', async () => {
    const m = createMetrics('svc');
    const h = m.exemplarHistogram('tidemark_test_latency_seconds', 'test', ['event_type'], [0.1, 1]);
    h.observe({ event_type: 'deposit.detected' }, 0.5, TRACE);
    h.observe({ event_type: 'deposit.detected' }, 0.05, '00000000000000000000000000000000'); // invalid: no exemplar
    const om = await m.render(PROMETHEUS_ACCEPT);
    expect(om.content_type).toMatch(/^application\/openmetrics-text/);
    expect(om.body.endsWith('# EOF\n')).toBe(true);
    const bucket = om.body.split('\n').find((l) => l.startsWith('tidemark_test_latency_seconds_bucket{le="1"'))!;
    expect(bucket).toMatch(new RegExp(`event_type="deposit.detected"\\} 2 # \\{trace_id="${TRACE}"\\} 0\\.5 [0-9.]+$`));
    expect(om.body.split('\n').find((l) => l.startsWith('tidemark_test_latency_seconds_bucket{le="0.1"'))).not.toContain('#');

    const text = await m.render('*/*');
    expect(text.content_type).toMatch(/^text\/plain/);
    expect(text.body).not.toContain('trace_id');
    expect(text.body).not.toContain('# EOF');
  });

  it('keeps counter names (with _total) in the text format after an OpenMetrics render', async () => {
    const m = createMetrics('svc');
    m.counter('tidemark_test_things_total', 'things').inc(3);
    const own = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.includes('tidemark_test_things'))
        .join('\n');
    const before = own(await m.text());
    const om = (await m.render(PROMETHEUS_ACCEPT)).body;
    expect(om).toContain('# TYPE tidemark_test_things counter');
    expect(om).toContain('tidemark_test_things_total{service="svc"} 3');
    const after = own(await m.text());
    expect(after).toContain('# TYPE tidemark_test_things_total counter');
    expect(after).toBe(before);
  });

  it('recognises the OpenMetrics Accept header', () => {
    expect(wantsOpenMetrics(PROMETHEUS_ACCEPT)).toBe(true);
    expect(wantsOpenMetrics('text/plain')).toBe(false);
    expect(wantsOpenMetrics(undefined)).toBe(false);
  });
});
