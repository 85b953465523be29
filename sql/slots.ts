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

/** No slot came free in time. */
export class DatabaseBusy extends Error {
  constructor() {
    super("database busy: every connection slot of this process is in use");
  }
}

const MIN_POLL_MS = 2;
const MAX_POLL_MS = 100;

let inUse = 0;

/** Takes a slot, waiting up to `timeoutMs` for one. */
export async function acquireSlot(max: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; inUse >= max; attempt += 1) {
    const now = Date.now();
    if (now > deadline) throw new DatabaseBusy();
    const backoff = Math.min(MAX_POLL_MS, MIN_POLL_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
    await new Promise((resolve) => setTimeout(resolve, Math.min(backoff, deadline - now + 1)));
  }
  inUse += 1;
}

/** Gives a slot back. */
export function releaseSlot(): void {
  inUse = Math.max(0, inUse - 1);
}
