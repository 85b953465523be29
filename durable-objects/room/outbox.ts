import { backoffMs, type Backoff, type Message } from "../../protocol/index.ts";
import { withTimeout } from "../../sql/db.ts";
import type { MessageLog } from "./message-log.ts";
import type { Meta, RoomSql, Transaction } from "./room-sql.ts";

/** Writes one batch to PostgreSQL (through the process's database service); resolves once committed. */
export type BatchWriter = (batch: Message[]) => Promise<unknown>;

/**
 * When the alarm copies an outbox that no copy is working on (a restart left
 * it): this much later. Sends start their copy at once, through the
 * database service, and set no alarm.
 */
export const FLUSH_DELAY_MS = 1000;
/** After the n-th failure in a row: 0.5–1 × min(30 s, 500 ms · 2^(n−1)). */
const RETRY_BACKOFF: Backoff = { baseMs: 500, maxMs: 30_000, jitter: "upper" };
const FAILURES_KEY = "outbox_failures";
const RETRY_AT_KEY = "outbox_retry_at";

/** What one flush did. */
export type FlushResult =
  | { ok: true; copied: number; remaining: number; messages: Message[] }
  | { ok: false; failures: number; retryInMs: number; error: string; cause: unknown };

/** The wait after `failures` failed copies in a row (see {@link RETRY_BACKOFF}), whole ms. */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  return Math.round(backoffMs(failures - 1, RETRY_BACKOFF, random));
}

/**
 * The messages of the log that PostgreSQL does not hold yet, and the retry
 * state of their copy. The only module that reads or writes the `outbox`
 * table and the outbox's keys in meta. Entries leave it only after
 * PostgreSQL committed them; their rows are deleted with the next append, in
 * its transaction, so that a copy costs no disk commit of its own.
 */
export class Outbox {
  readonly #sql: RoomSql;
  readonly #meta: Meta;
  readonly #log: MessageLog;
  #depth: number;
  /** Entries up to this seq are in PostgreSQL; their rows go with the next append. In memory only: after a restart they are copied once more, which the insert skips. */
  #copiedThrough = 0;
  #deletedThrough = 0;

  constructor(sql: RoomSql, meta: Meta, log: MessageLog) {
    this.#sql = sql;
    this.#meta = meta;
    this.#log = log;
    sql.exec("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY)");
    // Entries whose message was pruned were copied already (a pending message
    // is never pruned); they go with the first append after the next copy.
    this.#depth = sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox o JOIN messages m ON m.seq = o.seq").one().n;
  }

  /** Messages still waiting for PostgreSQL. */
  get depth(): number {
    return this.#depth;
  }

  /** The lowest seq still waiting; pruning keeps it and everything above. `Number.MAX_SAFE_INTEGER` when none waits. */
  firstPending(): number {
    if (this.#depth === 0) return Number.MAX_SAFE_INTEGER;
    const first = this.#sql
      .exec<{ first: number | null }>("SELECT min(seq) AS first FROM outbox WHERE seq > ?", this.#copiedThrough)
      .one().first;
    return first ?? Number.MAX_SAFE_INTEGER;
  }

  /** Queues a new message, in the transaction that appends it. */
  enqueue(tx: Transaction, seq: number): void {
    const copied = this.#copiedThrough;
    if (copied > this.#deletedThrough) this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", copied);
    this.#sql.exec("INSERT INTO outbox (seq) VALUES (?)", seq);
    tx.afterCommit(() => {
      this.#deletedThrough = copied;
      this.#depth += 1;
    });
  }

  /** Drops every entry (multi-process mode: what was appended but never committed goes). */
  clear(tx: Transaction): void {
    this.#sql.exec("DELETE FROM outbox");
    tx.afterCommit(() => {
      this.#depth = 0;
      this.#deletedThrough = this.#copiedThrough;
    });
  }

  /**
   * Copies the oldest batch to PostgreSQL, in seq order. The insert skips rows
   * already there, so a batch whose reply was lost is simply copied again. A
   * failure records the next attempt's time in the room's storage, so that
   * backoff survives eviction. `only`: the message just appended, when it is
   * the whole outbox (no need to read it back).
   */
  async flush(
    write: BatchWriter,
    options: { batchSize: number; timeoutMs: number; only?: Message | undefined; now?: () => number },
  ): Promise<FlushResult> {
    const now = options.now ?? Date.now;
    const batch = options.only && this.#depth === 1 ? [options.only] : this.#batch(options.batchSize);
    const last = batch.at(-1);
    if (!last) return { ok: true, copied: 0, remaining: 0, messages: [] };
    try {
      await withTimeout(write(batch), options.timeoutMs, "outbox copy");
    } catch (error) {
      const failures = this.#meta.counter(FAILURES_KEY) + 1;
      const retryInMs = retryDelayMs(failures);
      this.#meta.setCounter(FAILURES_KEY, failures);
      this.#meta.setCounter(RETRY_AT_KEY, now() + retryInMs);
      const message = error instanceof Error ? error.message : String(error);
      return { ok: false, failures, retryInMs, error: message, cause: error };
    }
    if (last.seq > this.#copiedThrough) {
      this.#copiedThrough = last.seq;
      this.#depth = Math.max(0, this.#depth - batch.length);
    }
    this.#meta.setCounter(FAILURES_KEY, 0);
    this.#meta.setCounter(RETRY_AT_KEY, 0);
    return { ok: true, copied: batch.length, remaining: this.#depth, messages: batch };
  }

  /** When the outbox should next be copied (ms since the epoch); null when it is empty. */
  dueAt(now: number): number | null {
    if (this.#depth === 0) return null;
    const retryAt = this.#meta.counter(RETRY_AT_KEY);
    return retryAt > now ? retryAt : now + FLUSH_DELAY_MS;
  }

  /** True when the alarm should copy now: messages wait and no backoff runs (within 100 ms of its end). */
  due(now: number): boolean {
    return this.#depth > 0 && this.#meta.counter(RETRY_AT_KEY) <= now + 100;
  }

  /** True while a failed copy's backoff runs: a send does not start another attempt before it ends. */
  backingOff(now: number): boolean {
    return this.#meta.counter(RETRY_AT_KEY) > now;
  }

  /** Puts the next attempt off by `ms` without counting a failure (no database configured). */
  defer(now: number, ms: number): void {
    this.#meta.setCounter(RETRY_AT_KEY, now + ms);
  }

  /** The oldest messages still waiting, ascending: the outbox's entries, read from the log. */
  #batch(limit: number): Message[] {
    const seqs = this.#sql
      .exec<{ seq: number }>(
        "SELECT o.seq FROM outbox o JOIN messages m ON m.seq = o.seq WHERE o.seq > ? ORDER BY o.seq LIMIT ?",
        this.#copiedThrough,
        limit,
      )
      .toArray()
      .map((row) => row.seq);
    const first = seqs[0];
    const last = seqs.at(-1);
    if (first === undefined || last === undefined) return [];
    const pending = new Set(seqs);
    return this.#log.range(first - 1, last + 1, limit).filter((m) => pending.has(m.seq));
  }
}
