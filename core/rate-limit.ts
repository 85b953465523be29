import type { Rate } from "./config.ts";

/** A token bucket's size and refill: `burst` at once, then `perSecond`. */
export interface BucketLimits {
  burst: number;
  perSecond: number;
}

/** One token bucket. */
export interface TokenBucket {
  tokens: number;
  updatedAt: number;
}

/** A full bucket. */
export function newBucket(limits: BucketLimits, now: number): TokenBucket {
  return { tokens: limits.burst, updatedAt: now };
}

/** Takes one token: 0 when the caller may pass, else the milliseconds until a token is back. Mutates the bucket. */
export function take(bucket: TokenBucket, limits: BucketLimits, now: number): number {
  refill(bucket, limits, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil(((1 - bucket.tokens) / limits.perSecond) * 1000));
}

/** Brings the bucket to `now`: refilled for the time passed, never above the burst (which may have shrunk). Mutates it. */
export function refill(bucket: TokenBucket, limits: BucketLimits, now: number): void {
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  bucket.tokens = Math.min(limits.burst, bucket.tokens + elapsed * limits.perSecond);
  bucket.updatedAt = now;
}

/** Gives one token back (an attempt that turned out not to count), up to the burst. Mutates the bucket. */
export function giveBack(bucket: TokenBucket, limits: BucketLimits, now: number): void {
  refill(bucket, limits, now);
  bucket.tokens = Math.min(limits.burst, bucket.tokens + 1);
}

/** When the bucket is full again (ms since the epoch), and so the same as a new one. */
export function fullAt(bucket: TokenBucket, limits: BucketLimits): number {
  return bucket.updatedAt + Math.ceil(((limits.burst - bucket.tokens) / limits.perSecond) * 1000);
}

/** The bucket of a setting's rate (`20/1m`): a burst of 20, refilled evenly over the minute. */
export function rateLimits(rate: Rate): BucketLimits {
  return { burst: rate.limit, perSecond: (rate.limit * 1000) / rate.windowMs };
}

/**
 * Token buckets by key (a user id, a client address), in memory, bounded.
 * A bucket that has refilled completely is the same as a new one, so a sweep,
 * at most once per refill time (`burst / perSecond`), drops those: the map
 * holds the keys active in about the last two refill times. Past `maxKeys`
 * (keys that a flood makes faster than they refill), the oldest key goes
 * first, and comes back with a full bucket.
 */
export class KeyedBuckets {
  readonly #limits: BucketLimits;
  readonly #maxKeys: number;
  readonly #refillMs: number;
  readonly #buckets = new Map<string, TokenBucket>();
  #sweptAt = 0;

  constructor(limits: BucketLimits, maxKeys = 50_000) {
    this.#limits = limits;
    this.#maxKeys = maxKeys;
    this.#refillMs = (limits.burst / limits.perSecond) * 1000;
  }

  /** Takes one token from `key`'s bucket: 0 when the caller may pass, else the milliseconds until it may. */
  take(key: string, now: number): number {
    if (now - this.#sweptAt >= this.#refillMs) this.#sweep(now);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#dropOldest();
      bucket = newBucket(this.#limits, now);
      this.#buckets.set(key, bucket);
    }
    return take(bucket, this.#limits, now);
  }

  /** Keys held (for tests). */
  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, bucket] of this.#buckets) {
      refill(bucket, this.#limits, now);
      if (bucket.tokens >= this.#limits.burst) this.#buckets.delete(key);
    }
  }

  #dropOldest(): void {
    const oldest = this.#buckets.keys().next();
    if (!oldest.done) this.#buckets.delete(oldest.value);
  }
}
