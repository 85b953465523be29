import { describe, expect, it } from "vitest";
import { backoffMs, goawayDelayMs } from "./backoff.ts";

describe("backoffMs", () => {
  const room = { baseMs: 500, maxMs: 30_000 };

  it("doubles from the base, is capped, and jitters within its upper half by default", () => {
    expect(backoffMs(0, room, () => 0)).toBe(250);
    expect(backoffMs(0, room, () => 1)).toBe(500);
    expect(backoffMs(3, room, () => 1)).toBe(4000);
    expect(backoffMs(3, room, () => 0.5)).toBe(3000);
    expect(backoffMs(29, room, () => 1)).toBe(30_000);
    expect(backoffMs(29, room, () => 0)).toBe(15_000);
    expect(backoffMs(5000, room, () => 1)).toBe(30_000);
  });

  it("counts a negative attempt as the first", () => {
    expect(backoffMs(-1, room, () => 1)).toBe(500);
  });

  it("draws full jitter from zero up to the ceiling", () => {
    expect(backoffMs(2, { ...room, jitter: "full" }, () => 0)).toBe(0);
    expect(backoffMs(2, { ...room, jitter: "full" }, () => 0.25)).toBe(500);
    expect(backoffMs(10, { ...room, jitter: "full" }, () => 0.5)).toBe(15_000);
  });

  it("is the ceiling itself without jitter", () => {
    expect(backoffMs(1, { baseMs: 250, maxMs: 4000, jitter: "none" }, () => 0)).toBe(500);
    expect(backoffMs(4, { baseMs: 250, maxMs: 4000, jitter: "none" }, () => 0)).toBe(4000);
  });

  it("stays within its bounds with Math.random", () => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const ceiling = Math.min(10_000, 250 * 2 ** attempt);
      const upper = backoffMs(attempt, { baseMs: 250, maxMs: 10_000 });
      expect(upper).toBeGreaterThanOrEqual(ceiling / 2);
      expect(upper).toBeLessThanOrEqual(ceiling);
      const full = backoffMs(attempt, { baseMs: 250, maxMs: 10_000, jitter: "full" });
      expect(full).toBeGreaterThanOrEqual(0);
      expect(full).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe("goawayDelayMs", () => {
  it("is never sooner than asked and at most a fifth later", () => {
    expect(goawayDelayMs(4000, () => 0)).toBe(4000);
    expect(goawayDelayMs(4000, () => 0.5)).toBe(4400);
    expect(goawayDelayMs(4000, () => 1)).toBe(4800);
    for (let i = 0; i < 100; i++) {
      const delay = goawayDelayMs(1000);
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(1200);
    }
  });
});
