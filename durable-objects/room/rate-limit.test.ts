import { describe, expect, it } from "vitest";
import { MAX_STRIKES, newBucket, take } from "./rate-limit.ts";

describe("token bucket", () => {
  const limits = { perSecond: 10, burst: 20 };

  it("admits the burst, then refills at the rate", () => {
    const bucket = newBucket(limits.burst, 0);
    const admitted = Array.from({ length: 25 }, () => take(bucket, limits, 0)).filter(Boolean).length;
    expect(admitted).toBe(20);
    expect(take(bucket, limits, 50)).toBe(false);
    expect(take(bucket, limits, 100)).toBe(true);
  });

  it("counts strikes while the client keeps pushing, and forgives after a quiet second", () => {
    const bucket = newBucket(limits.burst, 0);
    let now = 0;
    for (let i = 0; i < 20; i++) take(bucket, limits, now);
    // Pushing at 50/s against a 10/s budget: refusals pile up despite refills.
    while (bucket.strikes < MAX_STRIKES && now < 5000) {
      now += 20;
      take(bucket, limits, now);
    }
    expect(bucket.strikes).toBe(MAX_STRIKES);
    now += 1500;
    expect(take(bucket, limits, now)).toBe(true);
    expect(bucket.strikes).toBe(0);
  });
});
