import { describe, expect, it } from "vitest";
import { fullAt, giveBack, spend, type Bucket } from "./bucket.ts";

const rate = { limit: 3, windowMs: 60_000 };

function spendMany(n: number, now: number, start?: Bucket): { bucket: Bucket | undefined; answers: boolean[] } {
  let bucket = start;
  const answers: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const [next, answer] = spend(bucket, rate, now);
    bucket = next;
    answers.push(answer.ok);
  }
  return { bucket, answers };
}

describe("token bucket", () => {
  it("allows a burst of `limit`, then refuses with the wait for one token", () => {
    const { bucket, answers } = spendMany(4, 1000);
    expect(answers).toEqual([true, true, true, false]);
    const [, answer] = spend(bucket, rate, 1000);
    // One token per windowMs / limit = 20 s.
    expect(answer).toEqual({ ok: false, retryAfterMs: 20_000 });
    expect(spend(bucket, rate, 11_000)[1]).toEqual({ ok: false, retryAfterMs: 10_000 });
  });

  it("refills evenly and never locks out: one attempt per windowMs / limit", () => {
    const { bucket } = spendMany(3, 0);
    expect(spend(bucket, rate, 19_999)[1].ok).toBe(false);
    const [after, answer] = spend(bucket, rate, 20_000);
    expect(answer.ok).toBe(true);
    expect(spend(after, rate, 20_001)[1].ok).toBe(false);
    // A long pause refills to the limit, not beyond.
    expect(spendMany(4, 10 * 60_000, after).answers).toEqual([true, true, true, false]);
  });

  it("a refusal spends nothing", () => {
    const { bucket } = spendMany(3, 0);
    let state = bucket;
    for (let t = 0; t < 20_000; t += 1000) state = spend(state, rate, t)[0];
    expect(spend(state, rate, 20_000)[1].ok).toBe(true);
  });

  it("gives a token back, up to the limit", () => {
    const { bucket } = spendMany(3, 0);
    const back = giveBack(bucket, rate, 0);
    expect(back.tokens).toBe(1);
    expect(giveBack(undefined, rate, 0).tokens).toBe(3);
  });

  it("knows when the bucket is full again", () => {
    const { bucket } = spendMany(2, 5000);
    if (!bucket) throw new Error("no bucket");
    expect(fullAt(bucket, rate)).toBe(5000 + 40_000);
  });

  it("follows a smaller limit at once: the bucket holds no more than the new limit", () => {
    const { bucket } = spendMany(1, 0);
    const smaller = { limit: 1, windowMs: 60_000 };
    const [after, first] = spend(bucket, smaller, 0);
    expect(first.ok).toBe(true);
    expect(spend(after, smaller, 0)[1].ok).toBe(false);
  });
});
