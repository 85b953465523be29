/** Token bucket: `burst` frames at once, refilled at `perSecond`. */
export interface TokenBucket {
  tokens: number;
  updatedAt: number;
  /** Frames refused since the last quiet second. */
  strikes: number;
  lastRefusedAt: number;
}

/** A full bucket. */
export function newBucket(burst: number, now: number): TokenBucket {
  return { tokens: burst, updatedAt: now, strikes: 0, lastRefusedAt: 0 };
}

/** Refusals, without a quiet second between them, before the socket is closed with 4429. */
export const MAX_STRIKES = 10;
const QUIET_MS = 1000;

/** Takes one token; answers whether the frame may pass. Mutates the bucket. */
export function take(bucket: TokenBucket, limits: { perSecond: number; burst: number }, now: number): boolean {
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  bucket.tokens = Math.min(limits.burst, bucket.tokens + elapsed * limits.perSecond);
  bucket.updatedAt = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    // A client that keeps hitting the limit while trickling through is still
    // sustaining it; only a quiet second forgives the strikes.
    if (now - bucket.lastRefusedAt > QUIET_MS) bucket.strikes = 0;
    return true;
  }
  bucket.strikes += 1;
  bucket.lastRefusedAt = now;
  return false;
}
