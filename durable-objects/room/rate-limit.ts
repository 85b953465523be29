/** Token bucket: `burst` frames at once, refilled at `perSecond`. */
export interface TokenBucket {
  tokens: number;
  updatedAt: number;
  /** Frames refused in a row; reset by the first frame allowed. */
  strikes: number;
}

/** A full bucket. */
export function newBucket(burst: number, now: number): TokenBucket {
  return { tokens: burst, updatedAt: now, strikes: 0 };
}

/** Frames refused in a row before the socket is closed with 4429. */
export const MAX_STRIKES = 10;

/** Takes one token; answers whether the frame may pass. Mutates the bucket. */
export function take(bucket: TokenBucket, limits: { perSecond: number; burst: number }, now: number): boolean {
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  bucket.tokens = Math.min(limits.burst, bucket.tokens + elapsed * limits.perSecond);
  bucket.updatedAt = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    bucket.strikes = 0;
    return true;
  }
  bucket.strikes += 1;
  return false;
}
