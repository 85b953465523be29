// The isolate's PostgreSQL connection slots, shared by Worker requests and
// room objects (a documented exception to "no shared mutable state"). workerd
// cannot share one socket between requests, so there is no pool across them;
// this cap keeps a burst (thousands of clients reconnecting after a restart,
// thousands of rooms copying their outboxes) from opening more connections
// than PostgreSQL allows (measured: 300 busy rooms with a connection each
// exhausted a default max_connections of 100). Waiters poll instead of being
// woken by the releaser, because a promise resolved from another request's
// context is not delivered reliably in workerd.

/** No slot came free in time. */
export class DatabaseBusy extends Error {
  constructor() {
    super("database busy: every connection slot of this process is in use");
  }
}

let inUse = 0;

/** Takes a slot, waiting up to `timeoutMs` for one. */
export async function acquireSlot(max: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (inUse >= max) {
    if (Date.now() > deadline) throw new DatabaseBusy();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  inUse += 1;
}

/** Gives a slot back. */
export function releaseSlot(): void {
  inUse = Math.max(0, inUse - 1);
}

/** Slots in use now (for tests). */
export function slotsInUse(): number {
  return inUse;
}
