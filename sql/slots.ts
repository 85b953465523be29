// The isolate's PostgreSQL connection slots for Worker requests that open a
// connection of their own: on Cloudflare, through Hyperdrive (a documented
// exception to "no shared mutable state"). Rooms, and self-hosted requests,
// use the process's database service instead (durable-objects/database).
// workerd cannot share one socket between requests, so there is no pool
// across them; this cap keeps a burst (thousands of clients reconnecting
// after a restart) from opening more connections than PostgreSQL allows. Waiters poll instead of being
// woken by the releaser, because a promise resolved from another request's
// context is not delivered reliably in workerd. They poll with exponential
// backoff (2 ms doubling to 100 ms, jittered): a fixed 5 ms poll of hundreds
// of waiting rooms filled the process with timers (measured with perf in a
// load test: timer handling led the profile, and upgrades took 10 s).
import { backoffMs } from "../protocol/index.ts";

/** No slot came free in time. */
export class DatabaseBusy extends Error {
  constructor() {
    super("database busy: every connection slot of this process is in use");
  }
}

const POLL = { baseMs: 2, maxMs: 100 };

let inUse = 0;

/** Takes a slot, waiting up to `timeoutMs` for one. */
export async function acquireSlot(max: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; inUse >= max; attempt += 1) {
    const now = Date.now();
    if (now > deadline) throw new DatabaseBusy();
    await new Promise((resolve) => setTimeout(resolve, Math.min(backoffMs(attempt, POLL), deadline - now + 1)));
  }
  inUse += 1;
}

/** Gives a slot back. */
export function releaseSlot(): void {
  inUse = Math.max(0, inUse - 1);
}
