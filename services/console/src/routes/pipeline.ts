/** The live pipeline page and the JSON it polls. */
import type { Express } from 'express';
import { dataTable, html } from '../html.js';
import { page, type ConsoleContext } from './shared.js';

export function registerPipeline(app: Express, ctx: ConsoleContext): void {
  const { opts } = ctx;

  app.get('/pipeline', (_req, res) => {
    page(
      res,
      200,
      'Pipeline',
      html`<p class="muted">Live: every service's /metrics and /readyz, scraped by the console; this page refreshes every two seconds.</p>
        <section aria-labelledby="rates-h">
          <h2 id="rates-h">Throughput</h2>
          <dl class="stats" id="rates" aria-live="polite">
            <div>
              <dt>Accepted (ingress)</dt>
              <dd data-stat="accepted">–</dd>
            </div>
            <div>
              <dt>Screened</dt>
              <dd data-stat="screened">–</dd>
            </div>
            <div>
              <dt>Projected (ledger)</dt>
              <dd data-stat="projected">–</dd>
            </div>
          </dl>
        </section>
        <section aria-labelledby="svc-h">
          <h2 id="svc-h">Services</h2>
          ${dataTable(['Service', 'Ready', 'Checks', 'Consumer lag', 'Ladder depth', 'DLQ depth'], [], {
            id: 'services',
            caption: 'Readiness, consumer lag, retry ladder and dead-letter depth per service',
          })}
        </section>
        <section aria-labelledby="lat-h">
          <h2 id="lat-h">Received → projected latency</h2>
          <p class="muted">p50 / p90 / p99 per event type, each point over the minute before it, for the last ten minutes.</p>
          <label for="event-type">Event type</label>
          <select id="event-type"></select>
          <div id="latency-chart" role="img" aria-label="Latency chart"></div>
          ${dataTable(['Event type', 'events/min', 'p50 ms', 'p90 ms', 'p99 ms'], [], {
            id: 'latency-table',
            caption: 'Latest latency percentiles per event type',
          })}
        </section>`,
      { current: '/pipeline' },
    );
  });

  app.get('/api/pipeline', (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(opts.monitor.view());
  });
}
