import { describe, expect, it } from "vitest";
import { bucketLow, bucketOf, Histogram, summarize } from "./histogram.ts";

describe("log-linear histogram", () => {
  it("puts every value in a bucket whose bounds hold it, within 1/32 of its size", () => {
    for (const v of [0, 1, 31, 32, 33, 63, 64, 100, 999, 1000, 1024, 12_345, 2 ** 20 + 7, 2 ** 31 - 1]) {
      const index = bucketOf(v);
      expect(bucketLow(index)).toBeLessThanOrEqual(v);
      expect(bucketLow(index + 1)).toBeGreaterThan(v);
      expect(bucketLow(index + 1) - bucketLow(index)).toBeLessThanOrEqual(Math.max(1, v / 32));
    }
  });

  it("gives quantiles within 3% and an exact mean, min and max", () => {
    const h = new Histogram();
    const values = Array.from({ length: 10_000 }, (_, i) => 100 + i * 7.3);
    for (const v of values) h.record(v);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1] ?? 0;
    for (const q of [0.5, 0.95, 0.99]) expect(Math.abs(h.quantile(q) - exact(q)) / exact(q)).toBeLessThan(0.03);
    expect(h.sum / h.count).toBeCloseTo(values.reduce((a, b) => a + b, 0) / values.length, 6);
    expect(h.min).toBe(100);
    expect(h.max).toBe(values.at(-1));
  });

  it("merges per-second parts into the same histogram as one pass", () => {
    const whole = new Histogram();
    const parts = [new Histogram(), new Histogram(), new Histogram()];
    for (let i = 0; i < 3000; i += 1) {
      const v = (i * 7919) % 50_000;
      whole.record(v);
      parts[i % 3]?.record(v);
    }
    const merged = Histogram.from(...parts.map((p) => p.data()));
    expect(summarize(merged)).toEqual(summarize(whole));
  });

  it("summarizes an empty histogram as zeros", () => {
    expect(summarize(new Histogram())).toEqual({ count: 0, avg: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
});
