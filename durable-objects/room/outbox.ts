import type { Sql } from "../../sql/db.ts";
import { insertMessages } from "../../sql/queries.ts";
import type { RoomStore } from "./storage.ts";

/** Delay between a send and the first copy attempt, so that a burst goes in one batch. */
export const FLUSH_DELAY_MS = 100;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const FAILURES_KEY = "outbox_failures";

/** What one flush did. */
export type FlushResult =
  | { ok: true; copied: number; remaining: number }
  | { ok: false; failures: number; retryInMs: number; error: string };

/** Exponential backoff with full jitter in its upper half: 0.5–1 × min(max, base·2^(n-1)). */
export function backoffMs(failures: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + random() / 2));
}

/**
 * Copies the oldest batch of the outbox to PostgreSQL, in seq order. The
 * insert skips rows already there, so a batch whose reply was lost is simply
 * copied again. Entries leave the outbox only after PostgreSQL committed them.
 */
export async function flushOutbox(store: RoomStore, pg: Sql, roomId: string, batchSize: number): Promise<FlushResult> {
  const batch = store.outboxBatch(roomId, batchSize);
  const last = batch.at(-1);
  if (!last) return { ok: true, copied: 0, remaining: 0 };
  try {
    await insertMessages(pg, batch);
  } catch (error) {
    const failures = store.counter(FAILURES_KEY) + 1;
    store.setCounter(FAILURES_KEY, failures);
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, failures, retryInMs: backoffMs(failures), error: message };
  }
  store.markCopied(last.seq);
  store.setCounter(FAILURES_KEY, 0);
  return { ok: true, copied: batch.length, remaining: store.outboxDepth };
}
