/** The live pipeline page and the JSON it polls. */
import type { Express } from 'express';
import { html } from '../html.js';
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
          <table id="services">
            <caption class="sr-only">
              Readiness, consumer lag, retry ladder and dead-letter depth per service
            </caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Ready</th>
                <th scope="col">Checks</th>
                <th scope="col">Consumer lag</th>
                <th scope="col">Ladder depth</th>
                <th scope="col">DLQ depth</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </section>
        <section aria-labelledby="lat-h">
          <h2 id="lat-h">Received → projected latency</h2>
          <p class="muted">p50 / p90 / p99 per event type, each point over the minute before it, for the last ten minutes.</p>
          <label for="event-type">Event type</label>
          <select id="event-type"></select>
          <div id="latency-chart" role="img" aria-label="Latency chart"></div>
          <table id="latency-table">
            <caption class="sr-only">
              Latest latency percentiles per event type
            </caption>
            <thead>
              <tr>
                <th scope="col">Event type</th>
                <th scope="col">events/min</th>
                <th scope="col">p50 ms</th>
                <th scope="col">p90 ms</th>
                <th scope="col">p99 ms</th>
              </tr>
            </thead>
            <tbody></tbody>
          </table>
        </section>`,
      { current: '/pipeline' },
    );
  });

  app.get('/api/pipeline', (_req, res) => {
    res.setHeader('cache-control', 'no-store');
    res.json(opts.monitor.view());
  });
}
