import { KeyedBuckets } from "../../core/rate-limit.ts";
import type { Config } from "../../core/config.ts";
import { metrics } from "../../metrics-bridge/registry.ts";

/** Refusals of one socket's frames, without a quiet second between them, before it is closed with 4429. */
export const MAX_STRIKES = 10;
const QUIET_MS = 1000;

/** Refusals of one socket's frames since its last quiet second. */
interface Strikes {
  count: number;
  lastRefusedAt: number;
}

/** What the budget says to one frame: pass it, refuse it with an error frame, or close the socket with 4429. */
export type FrameVerdict = "pass" | "refuse" | "close";

/**
 * The room's message budget: one token bucket per user
 * (`RATE_LIMIT_BURST`, refilled at `RATE_LIMIT_PER_SECOND`), which every
 * frame of the user's sockets and every REST publish of the user draws from,
 * so that tabs and REST together get one budget. Strikes are counted per
 * socket: the socket that keeps pushing is closed, not its user's other tabs.
 * In memory only: after the room wakes up every bucket is full again, and a
 * bucket that refilled completely is dropped (core/rate-limit.ts).
 */
export class MessageBudget {
  readonly #buckets: KeyedBuckets;
  readonly #strikes = new WeakMap<object, Strikes>();

  constructor(limits: Pick<Config, "rateLimitPerSecond" | "rateLimitBurst">) {
    this.#buckets = new KeyedBuckets({ burst: limits.rateLimitBurst, perSecond: limits.rateLimitPerSecond });
  }

  /** One frame of `userId` on `socket`. */
  frame(socket: object, userId: string, now: number): FrameVerdict {
    const strikes = this.#strikes.get(socket);
    if (this.#buckets.take(userId, now) === 0) {
      // A client that keeps hitting the limit while trickling through is still
      // sustaining it; only a quiet second forgives the strikes.
      if (strikes && now - strikes.lastRefusedAt > QUIET_MS) this.#strikes.delete(socket);
      return "pass";
    }
    metrics.rateLimited.inc({ limit: "message" });
    const next = { count: (strikes?.count ?? 0) + 1, lastRefusedAt: now };
    this.#strikes.set(socket, next);
    return next.count >= MAX_STRIKES ? "close" : "refuse";
  }

  /** One REST publish of `userId`: 0 when it may pass, else the seconds to wait (Retry-After). */
  publish(userId: string, now: number): number {
    const waitMs = this.#buckets.take(userId, now);
    if (waitMs === 0) return 0;
    metrics.rateLimited.inc({ limit: "message" });
    return Math.ceil(waitMs / 1000);
  }
}
