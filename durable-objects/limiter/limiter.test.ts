import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";

function limiter() {
  return env.LIMITER.get(env.LIMITER.idFromName(`test:${crypto.randomUUID()}`));
}

const rows = (stub: ReturnType<typeof limiter>) =>
  runInDurableObject(stub, (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM buckets").one().n);

describe("Limiter", () => {
  it("spends a burst per key, refuses with the wait, and takes a token back", async () => {
    const stub = limiter();
    const rate = { limit: 2, windowMs: 60_000 };
    expect(await stub.spend("a", rate)).toEqual({ ok: true });
    expect(await stub.spend("a", rate)).toEqual({ ok: true });
    const refused = await stub.spend("a", rate);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBeGreaterThan(29_000);
    expect(await stub.spend("b", rate)).toEqual({ ok: true });
    await stub.giveBack("a", rate);
    expect(await stub.spend("a", rate)).toEqual({ ok: true });
  });

  it("keeps what was spent when the object is evicted", async () => {
    const stub = limiter();
    const rate = { limit: 1, windowMs: 60_000 };
    expect((await stub.spend("a", rate)).ok).toBe(true);
    await evictDurableObject(stub);
    expect((await stub.spend("a", rate)).ok).toBe(false);
  });

  it("deletes the buckets that are full again, keeps the others", async () => {
    const stub = limiter();
    expect((await stub.spend("short", { limit: 1, windowMs: 50 })).ok).toBe(true);
    expect((await stub.spend("long", { limit: 1, windowMs: 600_000 })).ok).toBe(true);
    expect(await rows(stub)).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await runDurableObjectAlarm(stub);
    expect(await rows(stub)).toBe(1);
    expect((await stub.spend("long", { limit: 1, windowMs: 600_000 })).ok).toBe(false);
    expect((await stub.spend("short", { limit: 1, windowMs: 50 })).ok).toBe(true);
  });
});
