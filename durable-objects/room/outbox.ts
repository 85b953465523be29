import type { Message } from "../../protocol/index.ts";
import { withTimeout } from "../../sql/db.ts";
import type { RoomStore } from "./storage.ts";

/** Writes one batch to PostgreSQL (through the process's database service); resolves once committed. */
export type BatchWriter = (batch: Message[]) => Promise<unknown>;

/**
 * When the alarm copies an outbox that no copy is working on (a restart left
 * it): this much later. Sends start their copy at once, through the
 * database service, and set no alarm.
 */
export const FLUSH_DELAY_MS = 1000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const FAILURES_KEY = "outbox_failures";
const RETRY_AT_KEY = "outbox_retry_at";

/** What one flush did. */
export type FlushResult =
  | { ok: true; copied: number; remaining: number; messages: Message[] }
  | { ok: false; failures: number; retryInMs: number; error: string; cause: unknown };

/** Exponential backoff with jitter in its upper half: 0.5–1 × min(max, base·2^(n-1)). */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/** When the outbox should next be copied (ms since the epoch); null when it is empty. */
export function outboxDueAt(store: RoomStore, now: number): number | null {
  if (store.outboxDepth === 0) return null;
  const retryAt = store.counter(RETRY_AT_KEY);
  return retryAt > now ? retryAt : now + FLUSH_DELAY_MS;
}

/**
 * Copies the oldest batch of the outbox to PostgreSQL, in seq order. The
 * insert skips rows already there, so a batch whose reply was lost is simply
 * copied again. Entries leave the outbox only after PostgreSQL committed them.
 * A failure records the next attempt's time in the room's storage, so that
 * backoff survives eviction.
 */
export async function flushOutbox(
  store: RoomStore,
  roomId: string,
  options: { batchSize: number; timeoutMs: number; now?: () => number; write: BatchWriter; only?: Message },
): Promise<FlushResult> {
  const now = options.now ?? Date.now;
  // The message just appended, when it is the whole outbox: no need to read it back.
  const batch = options.only && store.outboxDepth === 1 ? [options.only] : store.outboxBatch(roomId, options.batchSize);
  const last = batch.at(-1);
  if (!last) return { ok: true, copied: 0, remaining: 0, messages: [] };
  try {
    await withTimeout(options.write(batch), options.timeoutMs, "outbox copy");
  } catch (error) {
    const failures = store.counter(FAILURES_KEY) + 1;
    const retryInMs = backoffMs(failures);
    store.setCounter(FAILURES_KEY, failures);
    store.setCounter(RETRY_AT_KEY, now() + retryInMs);
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, failures, retryInMs, error: message, cause: error };
  }
  store.markCopied(last.seq, batch.length);
  store.setCounter(FAILURES_KEY, 0);
  store.setCounter(RETRY_AT_KEY, 0);
  return { ok: true, copied: batch.length, remaining: store.outboxDepth, messages: batch };
}

/** True when the alarm should copy now: messages wait and no backoff runs (within 100 ms of its end). */
export function outboxDue(store: RoomStore, now: number): boolean {
  return store.outboxDepth > 0 && store.counter(RETRY_AT_KEY) <= now + 100;
}

/** True while a failed copy's backoff runs: a send does not start another attempt before it ends. */
export function outboxBackingOff(store: RoomStore, now: number): boolean {
  return store.counter(RETRY_AT_KEY) > now;
}

/** Puts the next copy attempt off by `ms` without counting a failure (no database configured, service unreachable). */
export function deferOutbox(store: RoomStore, now: number, ms: number): void {
  store.setCounter(RETRY_AT_KEY, now + ms);
}
