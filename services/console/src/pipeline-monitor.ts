/**
 * Scrapes every target's /metrics and /readyz on an interval and keeps a bounded history
 * for the Pipeline page (the numbers come from core/pipeline.ts).
 */
import type { Target } from './config.js';
import { parsePrometheus } from './core/prom.js';
import { summarize, type PipelineView, type Scrape, type TargetScrape } from './core/pipeline.js';

export const SCRAPE_TIMEOUT_MS = 1_500;
export const SCRAPE_BODY_BYTES_MAX = 4 * 1024 * 1024;

export interface MonitorOptions {
  targets: Target[];
  interval_ms: number;
  history_ms: number;
  rate_window_ms: number;
  latency_window_ms: number;
}

async function scrapeTarget(t: Target): Promise<TargetScrape> {
  const [metrics, ready] = await Promise.all([
    fetch(`${t.url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })
      .then(async (r) => {
        if (!r.ok) return null;
        const text = await r.text();
        return text.length > SCRAPE_BODY_BYTES_MAX ? null : parsePrometheus(text);
      })
      .catch(() => null),
    fetch(`${t.url}/readyz`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })
      .then(async (r) => {
        await r.body?.cancel();
        return r.status === 200;
      })
      .catch(() => null),
  ]);
  return { ready, samples: metrics };
}

export class PipelineMonitor {
  private readonly history: Scrape[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly opts: MonitorOptions) {}

  async scrapeOnce(): Promise<void> {
    const entries = await Promise.all(this.opts.targets.map(async (t) => [t.name, await scrapeTarget(t)] as const));
    const at_ms = Date.now();
    this.history.push({ at_ms, targets: Object.fromEntries(entries) });
    while (this.history.length > 0 && this.history[0]!.at_ms < at_ms - this.opts.history_ms) this.history.shift();
  }

  view(): PipelineView {
    return summarize(this.history, {
      rate_window_ms: this.opts.rate_window_ms,
      latency_window_ms: this.opts.latency_window_ms,
      target_names: this.opts.targets.map((t) => t.name),
    });
  }

  start(): void {
    const tick = () => {
      this.running = this.scrapeOnce()
        .catch(() => undefined)
        .finally(() => {
          this.running = null;
          if (this.timer) this.timer = setTimeout(tick, this.opts.interval_ms);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
