// A token bucket: `limit` tokens, refilled evenly at `limit` per `windowMs`.
// So a full bucket allows a burst of `limit` attempts, and after that one
// attempt every windowMs / limit: a steady rate, never a lockout.
import type { Rate } from "../../core/config.ts";

/** A bucket's state: tokens left (fractional while refilling) at time `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/** The answer to one attempt: allowed, or refused with the wait until one token is back. */
export type Spend = { ok: true } | { ok: false; retryAfterMs: number };

/** The bucket at `now`: refilled for the time passed, never above the limit (which may have shrunk). */
export function refill(bucket: Bucket | undefined, rate: Rate, now: number): Bucket {
  if (!bucket) return { tokens: rate.limit, at: now };
  const elapsed = Math.max(0, now - bucket.at);
  return { tokens: Math.min(rate.limit, bucket.tokens + (elapsed * rate.limit) / rate.windowMs), at: now };
}

/** Takes one token if there is one; the new state and the answer. */
export function spend(bucket: Bucket | undefined, rate: Rate, now: number): [Bucket, Spend] {
  const current = refill(bucket, rate, now);
  if (current.tokens >= 1) return [{ tokens: current.tokens - 1, at: now }, { ok: true }];
  const retryAfterMs = Math.ceil(((1 - current.tokens) * rate.windowMs) / rate.limit);
  return [current, { ok: false, retryAfterMs }];
}

/** Gives one token back (an attempt that turned out not to count). */
export function giveBack(bucket: Bucket | undefined, rate: Rate, now: number): Bucket {
  const current = refill(bucket, rate, now);
  return { tokens: Math.min(rate.limit, current.tokens + 1), at: now };
}

/** When the bucket is full again, and so can be forgotten. */
export function fullAt(bucket: Bucket, rate: Rate): number {
  return bucket.at + Math.ceil(((rate.limit - bucket.tokens) * rate.windowMs) / rate.limit);
}
