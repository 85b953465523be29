import { describe, expect, it } from "vitest";
import { fullAt, giveBack, KeyedBuckets, newBucket, rateLimits, take, type TokenBucket } from "./rate-limit.ts";

describe("token bucket", () => {
  const limits = { perSecond: 10, burst: 20 };

  it("admits the burst, then refills at the rate, and says how long to wait", () => {
    const bucket = newBucket(limits, 0);
    const admitted = Array.from({ length: 25 }, () => take(bucket, limits, 0)).filter((wait) => wait === 0).length;
    expect(admitted).toBe(20);
    expect(take(bucket, limits, 50)).toBe(50);
    expect(take(bucket, limits, 100)).toBe(0);
    expect(take(bucket, limits, 100)).toBe(100);
  });
});

describe("KeyedBuckets", () => {
  const limits = { perSecond: 1, burst: 2 };

  it("keeps one bucket per key", () => {
    const buckets = new KeyedBuckets(limits);
    expect([buckets.take("a", 0), buckets.take("a", 0), buckets.take("a", 0)]).toEqual([0, 0, 1000]);
    expect(buckets.take("b", 0)).toBe(0);
  });

  it("drops the buckets that refilled completely, and only those", () => {
    const buckets = new KeyedBuckets(limits);
    buckets.take("idle", 0);
    buckets.take("busy", 0);
    buckets.take("busy", 0);
    // 2 s later "idle" (1 token spent) is full again, "busy" (2 spent, one taken now) is not.
    buckets.take("busy", 1500);
    buckets.take("other", 2000);
    expect(buckets.size).toBe(2);
    // A dropped bucket comes back full: the same as if it had been kept.
    expect([buckets.take("idle", 2000), buckets.take("idle", 2000), buckets.take("idle", 2000)]).toEqual([0, 0, 1000]);
  });

  it("holds at most maxKeys keys, dropping the oldest", () => {
    const buckets = new KeyedBuckets(limits, 3);
    for (const key of ["a", "b", "c", "d"]) buckets.take(key, 10);
    expect(buckets.size).toBe(3);
    buckets.take("b", 10);
    expect(buckets.take("b", 10)).toBe(1000);
    // "a" was dropped, so it starts again with a full bucket.
    expect(buckets.take("a", 10)).toBe(0);
  });
});

describe("a setting's rate as a bucket (the Limiter objects' logins and registrations)", () => {
  const limits = rateLimits({ limit: 3, windowMs: 60_000 });

  function spendMany(n: number, now: number, bucket = newBucket(limits, now)): { bucket: TokenBucket; waits: number[] } {
    const waits: number[] = [];
    for (let i = 0; i < n; i++) waits.push(take(bucket, limits, now));
    return { bucket, waits };
  }

  it("allows a burst of `limit`, then refuses with the wait for one token: one per windowMs / limit", () => {
    const { bucket, waits } = spendMany(4, 1000);
    expect(waits).toEqual([0, 0, 0, 20_000]);
    expect(take(bucket, limits, 11_000)).toBe(10_000);
    expect(take(bucket, limits, 21_000)).toBe(0);
    expect(take(bucket, limits, 21_001)).toBeGreaterThan(0);
  });

  it("refills to the limit and no further after a long pause", () => {
    const { bucket } = spendMany(3, 0);
    expect(spendMany(4, 10 * 60_000, bucket).waits).toEqual([0, 0, 0, 20_000]);
  });

  it("gives a token back, up to the limit, and knows when it is full again", () => {
    const { bucket } = spendMany(3, 0);
    giveBack(bucket, limits, 0);
    expect(bucket.tokens).toBe(1);
    expect(fullAt(bucket, limits)).toBe(40_000);
    const full = newBucket(limits, 0);
    giveBack(full, limits, 0);
    expect(full.tokens).toBe(3);
  });
});
