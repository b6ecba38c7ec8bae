/** Acknowledgement latency percentiles with HdrHistogram (microsecond resolution, 3 significant digits). */
import * as hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

const LATENCY_US_MAX = 600_000_000; // 10 min: anything slower is clamped

export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_US_MAX,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  record_us(latency_us: number): void {
    this.histogram.recordValue(Math.max(1, Math.min(LATENCY_US_MAX, Math.round(latency_us))));
  }

  summary(): LatencySummary {
    const h = this.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      p50_ms: ms(h.getValueAtPercentile(50)),
      p90_ms: ms(h.getValueAtPercentile(90)),
      p99_ms: ms(h.getValueAtPercentile(99)),
      p999_ms: ms(h.getValueAtPercentile(99.9)),
      max_ms: ms(h.maxValue),
      mean_ms: h.totalCount === 0 ? 0 : ms(h.mean),
    };
  }
}
