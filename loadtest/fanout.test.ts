import { describe, expect, it } from "vitest";
import { sweep, verdict, type Measured } from "./fanout.ts";

const e2e = (p99: number) => ({ count: 100, avg: p99 / 2, p50: p99 / 3, p95: p99 * 0.9, p99, max: p99 * 1.2 });

/** A measure that answers from a list of (within limit?) outcomes, one per attempt, and records the rates asked. */
function scripted(outcomes: boolean[]) {
  const asked: { rate: number; label: string }[] = [];
  let i = 0;
  const measure = async (rate: number, label: string): Promise<Measured> => {
    asked.push({ rate, label });
    const withinLimit = outcomes[i++] ?? false;
    return {
      rate,
      seconds: 9,
      sentPerSecond: rate,
      deliveriesPerSecond: rate * 100,
      errors: 0,
      e2e: e2e(withinLimit ? 10 : 80),
      withinLimit,
    };
  };
  return { asked, measure };
}

const plan = { startRate: 20, factor: 1.5, maxSteps: 12, warmup: false };

describe("fanout sweep", () => {
  it("repeats a failing step once; the rule itself", () => {
    expect(verdict(true, 1)).toBe("next");
    expect(verdict(true, 2)).toBe("next");
    expect(verdict(false, 1)).toBe("repeat");
    expect(verdict(false, 2)).toBe("end");
  });

  it("goes on after a single spike, and keeps both attempts", async () => {
    // 20 ok, 30 over, 30 ok (repeat), 45 ok, 67.5 over, 67.5 over (repeat): end.
    const { asked, measure } = scripted([true, false, true, true, false, false]);
    let pauses = 0;
    const r = await sweep(
      plan,
      measure,
      () => false,
      async () => void (pauses += 1),
    );
    expect(asked.map((a) => a.rate)).toEqual([20, 30, 30, 45, 67.5, 67.5]);
    expect(r.steps.map((s) => [s.step, s.attempt, s.withinLimit])).toEqual([
      [1, 1, true],
      [2, 1, false],
      [2, 2, true],
      [3, 1, true],
      [4, 1, false],
      [4, 2, false],
    ]);
    expect(pauses).toBe(2);
    // The best is over attempts within the limit: the passing repeat counts, the failed attempts do not.
    expect(r.best).toBe(4500);
    expect(r.warmup).toBeNull();
  });

  it("ends on two failing attempts at the first rate, with no best", async () => {
    const { asked, measure } = scripted([false, false, true]);
    const r = await sweep(plan, measure, () => false);
    expect(asked.map((a) => a.rate)).toEqual([20, 20]);
    expect(r.best).toBeNull();
  });

  it("runs the first rate once as warm-up, kept apart and out of the best", async () => {
    // The warm-up is the first outcome (a pass with a high figure would otherwise be the best).
    const { asked, measure } = scripted([true, false, false]);
    const r = await sweep({ ...plan, warmup: true }, measure, () => false);
    expect(asked.map((a) => a.label)).toEqual(["warm-up (not recorded)", "step 1", "step 1 (repeat)"]);
    expect(r.warmup).toMatchObject({ step: 0, attempt: 1, rate: 20 });
    expect(r.steps).toHaveLength(2);
    expect(r.best).toBeNull();
  });

  it("counts rates, not attempts, against maxSteps", async () => {
    const { asked, measure } = scripted([false, true, false, true, true]);
    const r = await sweep({ ...plan, maxSteps: 2 }, measure, () => false);
    expect(asked.map((a) => a.rate)).toEqual([20, 20, 30, 30]);
    expect(r.steps.every((s) => s.step <= 2)).toBe(true);
    expect(r.best).toBe(3000);
  });

  it("stops when the run is stopped", async () => {
    const { asked, measure } = scripted([true, true, true]);
    let n = 0;
    await sweep(plan, measure, () => n++ >= 2);
    expect(asked).toHaveLength(2);
  });
});
