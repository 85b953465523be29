import { DurableObject } from "cloudflare:workers";
import type { Message } from "../../protocol/index.ts";
import { isQueryName, runQuery } from "../../sql/worker-queries.ts";
import {
  claimLease,
  insertMessages,
  insertMessagesFencedBatch,
  maxArchivedSeqs,
  releaseLease,
  renewLeases,
  selectMessages,
  type HeldLease,
} from "../../sql/queries.ts";
import { readConfig, type Config } from "../../core/config.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import type { Sql } from "../../sql/db.ts";
import { Batcher } from "./batcher.ts";
import { LeaseKeeper, type LeaseEvent } from "./lease-keeper.ts";
import { Pool } from "./pool.ts";

/** An archive range, as `selectMessages` takes it. */
export interface ArchiveRange {
  afterSeq: number;
  beforeSeq: number;
  limit: number;
  newest?: boolean;
}

/** What a lease claim answers: the lease with what PostgreSQL holds past the room's log, or who has it for how long. */
export type ClaimResult = { ok: true; epoch: number; archived: Message[]; archivedHead: number } | { ok: false; remainingMs: number };

/** A fenced commit's answer for one room: whether its lease held (and its messages were written), and whether another process asked for it. */
export interface CommitResult {
  held: boolean;
  wanted: boolean;
}

interface FencedItem extends HeldLease {
  messages: Message[];
}

/** Rows one statement writes at most; more wait for the next. */
const MAX_BATCH_ROWS = 5000;

/**
 * The process's database service (one per process self-hosted; sharded by
 * room on Cloudflare, see shard.ts). It holds the long-lived PostgreSQL
 * connections, and does once per process, batched, what rooms used to do
 * each on their own: archive copies (group commit: what queues while a write
 * is in flight goes in the next statement), head checks, fenced commits in
 * multi-process mode, and the renewal of every lease the process holds. Its
 * RPC methods are the only way rooms reach PostgreSQL.
 */
export class Database extends DurableObject<Env> {
  readonly #config: Config;
  readonly #pool: Pool | undefined;
  readonly #copies: Batcher<Message[], number>;
  readonly #heads: Batcher<string, number>;
  readonly #fenced: Batcher<FencedItem, CommitResult>;
  readonly #keeper: LeaseKeeper;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    const url = this.#config.databaseUrl;
    this.#pool = url ? new Pool(url, { max: this.#config.databaseMaxConnections, timeoutMs: this.#config.databaseTimeoutMs }) : undefined;
    const observe = (kind: string) => (size: number, ms: number, ok: boolean) => {
      metrics.databaseBatches.inc({ kind, result: ok ? "ok" : "error" });
      metrics.databaseBatchSize.observe({ kind }, size);
      metrics.databaseBatchSeconds.observe({ kind }, ms / 1000);
    };
    // Two writes in flight: one commits while the next batch fills and starts.
    this.#copies = new Batcher((batches) => this.#copy(batches), { maxItems: 500, concurrency: 2, onBatch: observe("copy") });
    this.#heads = new Batcher((rooms) => this.#headsOf(rooms), { maxItems: 1000, concurrency: 1, onBatch: observe("head") });
    // One fenced write at a time. Four in flight (safe: a room has one commit
    // in flight, so concurrent statements touch different rooms) made no
    // difference in the two-process seed at 10,000 (docs/performance.md).
    this.#fenced = new Batcher((items) => this.#commitFenced(items), { maxItems: 500, concurrency: 1, onBatch: observe("commit") });
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS leases (room_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL)");
    const held = ctx.storage.sql.exec<{ room_id: string; epoch: number }>("SELECT room_id, epoch FROM leases").toArray();
    this.#keeper = new LeaseKeeper(
      (leases) => this.#sql("lease renewal", (sql) => renewLeases(sql, this.#nodeId(), this.#config.leaseTtlMs, leases)),
      (roomId, epoch, event) => this.#tell(roomId, epoch, event),
      held.map((r) => ({ roomId: r.room_id, epoch: r.epoch })),
    );
  }

  /** RPC: copies one room's outbox batch to the archive; resolves once committed (with rows of other rooms, in one statement). */
  async copy(messages: Message[]): Promise<number> {
    return this.#copies.submit(messages);
  }

  /** RPC: the highest archived seq of a room (head checks of many rooms go in one query). */
  async archivedHead(roomId: string): Promise<number> {
    return this.#heads.submit(roomId);
  }

  /** RPC: archived messages of a room in a range, ascending. */
  async select(roomId: string, range: ArchiveRange): Promise<Message[]> {
    return this.#sql("archive read", (sql) => selectMessages(sql, roomId, range));
  }

  /**
   * RPC, multi-process mode: claims the room for this process and reads what
   * PostgreSQL holds beyond `committed` (the room's log), at most `limit` of
   * the newest. From then on the lease keeper renews it.
   */
  async claim(roomId: string, committed: number, limit: number): Promise<ClaimResult> {
    const nodeId = this.#nodeId();
    const claim = await this.#sql("lease claim", (sql) => claimLease(sql, roomId, nodeId, this.#config.leaseTtlMs));
    if (!claim.ok) return { ok: false, remainingMs: claim.remainingMs };
    const epoch = claim.lease.epoch;
    this.#hold({ roomId, epoch });
    try {
      const archivedHead = await this.archivedHead(roomId);
      const range = { afterSeq: Math.min(committed, archivedHead), beforeSeq: archivedHead + 1, limit, newest: true };
      return { ok: true, epoch, archived: await this.select(roomId, range), archivedHead };
    } catch (error) {
      // The room will claim again (a new epoch); this one needs no renewing.
      this.#drop(roomId, epoch);
      throw error;
    }
  }

  /**
   * RPC, multi-process mode: writes a room's messages only if this process
   * still holds its lease with `epoch` (group commit across rooms, one
   * statement). A lost lease is no longer renewed.
   */
  async commit(roomId: string, epoch: number, messages: Message[]): Promise<CommitResult> {
    const result = await this.#fenced.submit({ roomId, epoch, messages });
    if (!result.held) this.#drop(roomId, epoch);
    return result;
  }

  /** RPC, multi-process mode: gives a room up now (drain, handover). */
  async release(roomId: string, epoch: number): Promise<void> {
    this.#drop(roomId, epoch);
    const lease = { nodeId: this.#nodeId(), epoch, ttlMs: this.#config.leaseTtlMs };
    await this.#sql("lease release", (sql) => releaseLease(sql, roomId, lease));
  }

  /** RPC from the Worker (self-hosted): one of its named queries (sql/worker-queries.ts) on the long-lived connections. */
  async query(name: string, args: unknown[]): Promise<unknown> {
    if (!isQueryName(name)) throw new Error(`database: no query named ${name}`);
    return this.#sql(name, (sql) => runQuery(sql, name, args));
  }

  /** The lease keeper's period: renews every held lease, a third of LEASE_TTL apart. */
  override async alarm(): Promise<void> {
    if (this.#keeper.size === 0) return;
    let next = this.#config.leaseTtlMs / 3;
    try {
      await this.#keeper.tick();
    } catch (error) {
      // PostgreSQL did not answer: try again soon, well before the leases run out.
      next = Math.min(next, 1000);
      console.error(`database: lease renewal failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (this.#keeper.size > 0) await this.ctx.storage.setAlarm(Date.now() + next);
  }

  #hold(lease: HeldLease): void {
    const first = this.#keeper.size === 0;
    this.#keeper.hold(lease);
    this.ctx.storage.sql.exec(
      "INSERT INTO leases (room_id, epoch) VALUES (?, ?) ON CONFLICT (room_id) DO UPDATE SET epoch = excluded.epoch",
      lease.roomId,
      lease.epoch,
    );
    if (first) void this.ctx.storage.setAlarm(Date.now() + this.#config.leaseTtlMs / 3);
  }

  #drop(roomId: string, epoch: number): void {
    if (this.#keeper.drop(roomId, epoch)) this.ctx.storage.sql.exec("DELETE FROM leases WHERE room_id = ? AND epoch = ?", roomId, epoch);
  }

  /** Tells a room what the last renewal found; the room ignores news of an epoch it no longer holds. */
  #tell(roomId: string, epoch: number, event: LeaseEvent): void {
    if (event === "lost") this.ctx.storage.sql.exec("DELETE FROM leases WHERE room_id = ? AND epoch = ?", roomId, epoch);
    const room = this.env.ROOMS.get(this.env.ROOMS.idFromName(roomId));
    this.ctx.waitUntil(
      room.leaseEvent(epoch, event).catch((error: unknown) => {
        console.error(
          `database: cannot tell room ${roomId} its lease was ${event}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }),
    );
  }

  async #copy(batches: Message[][]): Promise<number[]> {
    const rows = batches.flat();
    for (let i = 0; i < rows.length; i += MAX_BATCH_ROWS) {
      const part = rows.slice(i, i + MAX_BATCH_ROWS);
      await this.#sql("outbox copy", (sql) => insertMessages(sql, part));
    }
    return batches.map((b) => b.length);
  }

  async #headsOf(rooms: string[]): Promise<number[]> {
    const heads = await this.#sql("head check", (sql) => maxArchivedSeqs(sql, rooms));
    return rooms.map((id) => heads.get(id) ?? 0);
  }

  async #commitFenced(items: FencedItem[]): Promise<CommitResult[]> {
    // A room has one commit in flight at a time (ChatRoom#commit), so each room appears once.
    const held = await this.#sql("commit", (sql) => insertMessagesFencedBatch(sql, this.#nodeId(), this.#config.leaseTtlMs, items));
    return items.map((item) => ({ held: held.has(item.roomId), wanted: held.get(item.roomId)?.wanted ?? false }));
  }

  #nodeId(): string {
    const nodeId = this.#config.nodeId;
    if (!nodeId) throw new Error("database: leases need NODE_ID (multi-process mode)");
    return nodeId;
  }

  #sql<T>(what: string, work: (sql: Sql) => Promise<T>): Promise<T> {
    if (!this.#pool) return Promise.reject(new Error("no database configured (DATABASE_URL or HYPERDRIVE)"));
    return this.#pool.run(what, work);
  }
}
