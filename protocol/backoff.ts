/**
 * How long to wait before trying again. Exponential backoff with jitter: the
 * one formula behind every retry loop (the client's reconnects, the Worker's
 * wait for a database slot, the room's outbox copies, the load test's setup
 * requests); and the wait a client adds to a `goaway`'s delay. Here because
 * `client/` may import only `protocol/`.
 */

/** The shape of one backoff. */
export interface Backoff {
  /** The ceiling of the first wait (attempt 0), in ms. */
  baseMs: number;
  /** No ceiling grows past this, in ms. */
  maxMs: number;
  /**
   * How the wait is drawn under its ceiling: `upper` (the default) uniformly
   * in its upper half [½·ceiling, ceiling), `full` uniformly in [0, ceiling),
   * `none` the ceiling itself.
   */
  jitter?: "upper" | "full" | "none";
}

/**
 * The wait before retry number `attempt` (0 for the first; a negative one
 * counts as 0), in ms, not rounded:
 *
 *     ceiling = min(maxMs, baseMs · 2^attempt)
 *     upper:  ceiling · (½ + ½·random())
 *     full:   ceiling · random()
 *     none:   ceiling
 *
 * `random` returns a number in [0, 1), as `Math.random` does.
 */
export function backoffMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, attempt));
  switch (backoff.jitter ?? "upper") {
    case "upper":
      return ceiling * (0.5 + random() / 2);
    case "full":
      return ceiling * random();
    case "none":
      return ceiling;
  }
}

/**
 * The wait before reconnecting after `{"type":"goaway","retryAfterMs":N}`:
 * never sooner than asked, and jittered once more so that the clients the
 * server spread out do not bunch up again: N · (1 + random()/5), 1–1.2 × N.
 */
export function goawayDelayMs(retryAfterMs: number, random: () => number = Math.random): number {
  return retryAfterMs * (1 + random() / 5);
}
