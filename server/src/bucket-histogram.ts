/**
 * A Prometheus histogram whose observation is a bucket search and three additions. The fan-out
 * histograms are observed once per published frame, on the hot path; prom-client's Histogram does a
 * label lookup and more per observation (about 5 % of the core's CPU per direct message,
 * docs/benchmarks.md), so these keep plain numbers and are written out at scrape time.
 */

export class BucketHistogram {
  /** Observations at or below each bound (not cumulative; the rendering adds them up). */
  private readonly counts: Float64Array;
  private count = 0;
  private sum = 0;

  constructor(
    readonly name: string,
    private readonly help: string,
    /** Upper bounds, ascending. */
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    for (let i = 0; i < bounds.length; i += 1) {
      if (value <= bounds[i]) {
        this.counts[i] += 1;
        break;
      }
    }
    this.count += 1;
    this.sum += value;
  }

  /** The text exposition format, as prom-client writes a histogram without labels. */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i += 1) {
      cumulative += this.counts[i];
      lines.push(`${this.name}_bucket{le="${this.bounds[i]}"} ${cumulative}`);
    }
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.count}`);
    return `${lines.join('\n')}\n`;
  }
}
