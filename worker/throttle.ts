// Limits on attempts that are cheap to send and dear to answer (a login
// costs a PBKDF2 hash), counted in Limiter objects (durable-objects/limiter)
// so that every isolate of a deployment counts against the same bucket:
// one RPC per bucket and attempt.
import type { Rate } from "../core/config.ts";
import { fnv1a } from "../core/hash.ts";
import type { Spend } from "../durable-objects/limiter/limiter.ts";
import type { Limiter } from "../durable-objects/limiter/limiter.ts";
import { metrics } from "../metrics-bridge/registry.ts";
import type { AppContext } from "./context.ts";
import { ApiError } from "./errors.ts";

/** One bucket an attempt is counted in: which limit, whose (an address, a username), and the limit's rate. */
export interface Charge {
  limit: string;
  key: string;
  rate: Rate;
}

/**
 * Limiter objects per limit. Keys are spread over them by a hash, so the
 * objects (and, self-hosted, their files) stay this many however many keys
 * come; one object serves several hundred attempts a second.
 */
export const LIMITER_SHARDS = 16;

function limiterFor(env: Env, charge: Charge): DurableObjectStub<Limiter> {
  return env.LIMITER.get(env.LIMITER.idFromName(`${charge.limit}:${shardOf(charge.key)}`));
}

/** The Limiter shard of a key: stable across isolates and processes. */
export function shardOf(key: string): number {
  return fnv1a(key) % LIMITER_SHARDS;
}

/**
 * Spends one attempt from each bucket, in order, and stops at the first that
 * is empty: 429 `rate_limited` with `Retry-After` (whole seconds, at least
 * 1). One RPC per bucket. Returns a function that gives the spent attempts
 * back, in the background (for attempts that turn out not to count).
 */
export async function spendAttempts(c: AppContext, charges: readonly Charge[]): Promise<() => void> {
  const spent: Charge[] = [];
  for (const charge of charges) {
    const answer = await call<Spend>("spend", limiterFor(c.env, charge).spend(charge.key, charge.rate));
    if (!answer.ok) {
      const seconds = Math.max(1, Math.ceil(answer.retryAfterMs / 1000));
      throw new ApiError("rate_limited", `too many attempts; retry in ${seconds} s`, { "Retry-After": String(seconds) });
    }
    spent.push(charge);
  }
  return () => {
    if (spent.length === 0) return;
    const back = Promise.all(spent.map((charge) => call<void>("giveBack", limiterFor(c.env, charge).giveBack(charge.key, charge.rate))));
    c.executionCtx.waitUntil(back.catch(() => {}));
  };
}

async function call<T>(method: "spend" | "giveBack", rpc: PromiseLike<T>): Promise<T> {
  try {
    const result = await rpc;
    const refused = typeof result === "object" && result !== null && (result as Partial<Spend>).ok === false;
    metrics.rpcCalls.inc({ target: "limiter", method, code: refused ? "rate_limited" : "ok" });
    return result;
  } catch (error) {
    metrics.rpcCalls.inc({ target: "limiter", method, code: "error" });
    throw error;
  }
}
