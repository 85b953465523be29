import { describe, expect, it } from "vitest";
import { LIMITER_SHARDS, shardOf } from "./throttle.ts";

describe("shardOf", () => {
  it("is stable, in range, and spreads keys over every shard", () => {
    expect(shardOf("alice")).toBe(shardOf("alice"));
    const counts = new Array<number>(LIMITER_SHARDS).fill(0);
    for (let i = 0; i < 1600; i++) {
      const shard = shardOf(`user-${i}`);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(LIMITER_SHARDS);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    // 100 per shard on average; none empty or holding a large share.
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(150);
  });
});
