/**
 * Pure helpers over the Prometheus text format the services expose on /metrics:
 * parse samples, sum a metric (optionally by a label), and estimate quantiles of a
 * histogram from the difference of two cumulative scrapes (what happened in between),
 * interpolating linearly inside the bucket like PromQL's histogram_quantile.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Lines parsed from one scrape, at most (a scrape is a few thousand lines). */
export const SCRAPE_LINES_MAX = 50_000;

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && i < SCRAPE_LINES_MAX; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = m[3] === '+Inf' ? Number.POSITIVE_INFINITY : m[3] === '-Inf' ? Number.NEGATIVE_INFINITY : Number(m[3]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}

/** Sum of every sample of `name` whose labels include `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** Sums of `name` grouped by the value of `label`. */
export function sumBy(samples: readonly Sample[], name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (s.name !== name) continue;
    const key = s.labels[label] ?? '';
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** Cumulative bucket counts of one histogram series: upper bound (seconds) → count. */
export type Buckets = Map<number, number>;

/** The cumulative buckets of histogram `name` per value of `label` (summed over other labels). */
export function histogramsBy(samples: readonly Sample[], name: string, label: string): Map<string, Buckets> {
  const out = new Map<string, Buckets>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    const key = s.labels[label] ?? '';
    const buckets = out.get(key) ?? new Map<number, number>();
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
    out.set(key, buckets);
  }
  return out;
}

/** later − earlier per bucket (a counter reset — later below earlier — counts from zero). */
export function bucketDelta(later: Buckets, earlier: Buckets | undefined): Buckets {
  const out: Buckets = new Map();
  const reset = earlier !== undefined && [...later].some(([le, v]) => v < (earlier.get(le) ?? 0));
  for (const [le, v] of later) out.set(le, reset || !earlier ? v : v - (earlier.get(le) ?? 0));
  return out;
}

/**
 * The q-quantile (0 < q < 1) of observations described by cumulative buckets, in the
 * buckets' unit, or null without observations. Beyond the last finite bound the result
 * is that bound (as PromQL does).
 */
export function quantile(q: number, buckets: Buckets): number | null {
  if (!(q > 0 && q < 1)) throw new RangeError(`quantile must be in (0, 1), got ${q}`);
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [le, count] of sorted) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower;
      const inBucket = count - below;
      return inBucket <= 0 ? le : lower + (le - lower) * ((rank - below) / inBucket);
    }
    lower = le === Number.POSITIVE_INFINITY ? lower : le;
    below = count;
  }
  return lower;
}

/** Observations in the buckets (the +Inf bucket's count). */
export function observations(buckets: Buckets): number {
  return buckets.get(Number.POSITIVE_INFINITY) ?? Math.max(0, ...buckets.values());
}
