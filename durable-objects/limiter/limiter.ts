// The Limiter object: token buckets for one shard of one limit's keys (client
// addresses for logins and registrations, usernames for logins). The Worker
// names it `<limit>:<shard>` and picks the shard by a hash of the key
// (worker/throttle.ts). An object, not an isolate's memory, because
// Cloudflare spreads one client's requests over many isolates, each with a
// memory of its own; shards, not an object per key, because every object
// self-hosted is a SQLite file that stays on disk (4 KiB, measured) after
// its data is deleted, and a sweep of made-up usernames would leave one per
// name (docs/decisions.md).
//
// Buckets are stored (one row each), so an object evicted while idle comes
// back with what was spent: in memory only, an attacker pausing past the
// eviction would get a full burst again. A row whose
// bucket is full again means nothing, so an alarm deletes those.
import { DurableObject } from "cloudflare:workers";
import type { Rate } from "../../core/config.ts";
import { fullAt, giveBack, newBucket, rateLimits, take, type TokenBucket } from "../../core/rate-limit.ts";

/** The answer to one attempt: allowed, or refused with the wait until one token is back. */
export type Spend = { ok: true } | { ok: false; retryAfterMs: number };

/** The sweep of full buckets runs at most this often. */
const SWEEP_EVERY_MS = 60_000;

export class Limiter extends DurableObject<Env> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS buckets (
         key TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL, full_at INTEGER NOT NULL
       ) WITHOUT ROWID`,
    );
    this.#sql.exec("CREATE INDEX IF NOT EXISTS buckets_full_at ON buckets (full_at)");
  }

  /** RPC: one attempt of `key` under `rate`; refused with the wait when its bucket is empty. */
  async spend(key: string, rate: Rate): Promise<Spend> {
    const limits = rateLimits(rate);
    const now = Date.now();
    const bucket = this.#read(key) ?? newBucket(limits, now);
    const waitMs = take(bucket, limits, now);
    // A refusal spends nothing: the bucket's level is a function of time.
    if (waitMs > 0) return { ok: false, retryAfterMs: waitMs };
    await this.#write(key, bucket, rate);
    return { ok: true };
  }

  /** RPC: gives back the token of an attempt that does not count (a successful login). */
  async giveBack(key: string, rate: Rate): Promise<void> {
    const limits = rateLimits(rate);
    const now = Date.now();
    const bucket = this.#read(key) ?? newBucket(limits, now);
    giveBack(bucket, limits, now);
    await this.#write(key, bucket, rate);
  }

  /** Deletes the buckets that are full again; comes back while any are left. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#sql.exec("DELETE FROM buckets WHERE full_at <= ?", now);
    const next = this.#sql.exec<{ next: number | null }>("SELECT min(full_at) AS next FROM buckets").one().next;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, now + SWEEP_EVERY_MS));
  }

  #read(key: string): TokenBucket | undefined {
    const [row] = this.#sql.exec<{ tokens: number; at: number }>("SELECT tokens, at FROM buckets WHERE key = ?", key).toArray();
    return row ? { tokens: row.tokens, updatedAt: row.at } : undefined;
  }

  async #write(key: string, bucket: TokenBucket, rate: Rate): Promise<void> {
    const full = fullAt(bucket, rateLimits(rate));
    this.#sql.exec(
      `INSERT INTO buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at, full_at = excluded.full_at`,
      key,
      bucket.tokens,
      bucket.updatedAt,
      full,
    );
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Math.max(full, Date.now() + SWEEP_EVERY_MS));
  }
}
