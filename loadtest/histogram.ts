// A mergeable log-linear latency histogram (the idea of HdrHistogram, small):
// values in microseconds, exact below 32 µs, then 32 buckets per power of
// two, so any quantile is within about 3 % of the true value. Workers send
// one per second per measure; the main thread adds them up. No sample
// arrays, whatever the number of users.

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS;
const MAX_US = 2 ** 31 - 1;

/** The plain form: structured-clone and JSON safe. */
export interface HistogramData {
  /** [bucket index, count], any order. */
  buckets: [number, number][];
  count: number;
  /** Sum of the recorded values, µs. */
  sum: number;
  min: number;
  max: number;
}

/** The bucket a value (µs) falls in. */
export function bucketOf(us: number): number {
  const v = Math.min(MAX_US, Math.max(0, Math.floor(us)));
  if (v < SUB) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS;
  return SUB + shift * SUB + ((v >>> shift) - SUB);
}

/** The smallest value (µs) of a bucket. */
export function bucketLow(index: number): number {
  if (index < SUB) return index;
  const shift = Math.floor((index - SUB) / SUB);
  return (SUB + ((index - SUB) % SUB)) * 2 ** shift;
}

/** A histogram being filled. */
export class Histogram {
  readonly counts = new Map<number, number>();
  count = 0;
  sum = 0;
  min = Infinity;
  max = 0;

  /** Records one value in milliseconds. */
  recordMs(ms: number): void {
    this.record(ms * 1000);
  }

  /** Records one value in microseconds. */
  record(us: number): void {
    const v = Math.max(0, us);
    const index = bucketOf(v);
    this.counts.set(index, (this.counts.get(index) ?? 0) + 1);
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Adds another histogram's counts. */
  add(data: HistogramData): void {
    if (data.count === 0) return;
    for (const [index, n] of data.buckets) this.counts.set(index, (this.counts.get(index) ?? 0) + n);
    this.count += data.count;
    this.sum += data.sum;
    this.min = Math.min(this.min, data.min);
    this.max = Math.max(this.max, data.max);
  }

  /** The value (µs) below which a fraction `q` of the values fall: the middle of its bucket, within min and max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    const indices = [...this.counts.keys()].sort((a, b) => a - b);
    let seen = 0;
    for (const index of indices) {
      seen += this.counts.get(index) ?? 0;
      if (seen >= rank) {
        const low = bucketLow(index);
        const mid = index < SUB ? low : (low + bucketLow(index + 1)) / 2;
        return Math.min(this.max, Math.max(this.min, mid));
      }
    }
    return this.max;
  }

  /** The plain form, to post or to write. */
  data(): HistogramData {
    return {
      buckets: [...this.counts.entries()],
      count: this.count,
      sum: this.sum,
      min: this.count ? this.min : 0,
      max: this.max,
    };
  }

  /** A histogram from its plain form(s). */
  static from(...data: HistogramData[]): Histogram {
    const histogram = new Histogram();
    for (const d of data) histogram.add(d);
    return histogram;
  }
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  count: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** avg, p50, p95, p99 and max of a histogram, in ms. */
export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number) => us / 1000;
  return {
    count: histogram.count,
    avg: histogram.count ? ms(histogram.sum / histogram.count) : 0,
    p50: ms(histogram.quantile(0.5)),
    p95: ms(histogram.quantile(0.95)),
    p99: ms(histogram.quantile(0.99)),
    max: ms(histogram.max),
  };
}
