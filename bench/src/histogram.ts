/** HDR histograms (hdr-histogram-js) of microsecond values, summarised in milliseconds. */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export interface LatencySummary {
  /** Milliseconds. */
  p2_5: number;
  p50: number;
  p97_5: number;
  p99: number;
  avg: number;
  stdev: number;
  max: number;
  count: number;
}

const ms = (us: number) => Math.round(us) / 1000;

export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { p2_5: 0, p50: 0, p97_5: 0, p99: 0, avg: 0, stdev: 0, max: 0, count: 0 };
  return {
    p2_5: ms(h.getValueAtPercentile(2.5)),
    p50: ms(h.getValueAtPercentile(50)),
    p97_5: ms(h.getValueAtPercentile(97.5)),
    p99: ms(h.getValueAtPercentile(99)),
    avg: ms(h.mean),
    stdev: ms(h.stdDeviation),
    max: ms(h.maxValue),
    count: h.totalCount,
  };
}

/** Summary of per-second samples the way autocannon prints its Req/Sec row. */
export interface SampleSummary {
  p1: number;
  p2_5: number;
  p50: number;
  p97_5: number;
  avg: number;
  stdev: number;
  min: number;
}

export function summarizeSamples(samples: number[]): SampleSummary {
  if (samples.length === 0) return { p1: 0, p2_5: 0, p50: 0, p97_5: 0, avg: 0, stdev: 0, min: 0 };
  const sorted = [...samples].sort((a, b) => a - b); // a handful of 1 s samples, not latencies
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const avg = samples.reduce((a, b) => a + b, 0) / samples.length;
  const stdev = Math.sqrt(samples.reduce((a, b) => a + (b - avg) ** 2, 0) / samples.length);
  return { p1: at(1), p2_5: at(2.5), p50: at(50), p97_5: at(97.5), avg, stdev, min: sorted[0] };
}
