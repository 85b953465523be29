import type { Lease } from "../../sql/queries.ts";
import type { Room, User } from "../../protocol/index.ts";
import type { LeaseEvent } from "../database/lease-keeper.ts";
import type { ClaimResult } from "../database/database.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { errorText, type Committer, type CommitterParts, type RoomRefusal, type SendOutcome } from "./committer.ts";

const MOVED = "room moved to another process";
const HANDED_OVER = "room handed over to another process";

type Waiter = { resolve: () => void; reject: (error: unknown) => void };

/**
 * Several processes (NODE_ID set): this process serves the room only while it
 * holds the room's lease in PostgreSQL. A message is stored locally with the
 * next seq, then acknowledged and broadcast only once the database service
 * committed it to PostgreSQL, fenced by the lease; sends that arrive while a
 * commit is in flight go in the next batch together. Renewal is not the
 * room's job: the service's lease keeper renews every lease of the process
 * at once, and tells the room when its lease was lost or is wanted elsewhere.
 */
export class LeasedCommitter implements Committer {
  readonly #parts: CommitterParts;
  readonly #nodeId: string;
  #lease: Lease | undefined;
  #retryAfterS = 5;
  readonly #waiters = new Map<number, Waiter[]>();
  #committing = false;
  #claiming: Promise<true | RoomRefusal> | undefined;

  constructor(parts: CommitterParts, nodeId: string) {
    this.#parts = parts;
    this.#nodeId = nodeId;
  }

  get retryAfterS(): number {
    return this.#retryAfterS;
  }

  /**
   * Claims the lease unless held. Claiming bumps the epoch, drops what was
   * appended here but never committed, and takes what PostgreSQL holds beyond
   * the local log (another process may have served the room meanwhile).
   * One claim at a time; concurrent requests wait for the same answer.
   */
  async ready(room: Room): Promise<true | RoomRefusal> {
    if (this.#lease) return true;
    this.#claiming ??= this.#claim(room).finally(() => {
      this.#claiming = undefined;
    });
    const answer = await this.#claiming;
    if (answer === true) {
      // Messages a room that never ran in this mode had acknowledged are copied under the lease.
      if (this.#parts.store.outbox.depth > 0) void this.#commit(room.id);
      await this.#parts.arm();
    }
    return answer;
  }

  async accept(room: Room, user: User, clientMsgId: string, body: string): Promise<SendOutcome> {
    // Another process may own the room now: the client reconnects, and nginx sends it there.
    if ((await this.ready(room)) !== true) return { kind: "moved" };
    const accepted = this.#parts.sequencer.accept(user, clientMsgId, body);
    if (accepted.kind === "overloaded") return accepted;
    const seq = accepted.kind === "stored" ? accepted.message.seq : accepted.seq;
    try {
      // A resend of a message not committed yet waits for the same commit.
      if (seq > this.#parts.sequencer.committed) await this.#committedThrough(room.id, seq);
    } catch {
      // Not committed: the sender retries, and its resend is deduplicated.
      return { kind: "unavailable" };
    }
    return accepted;
  }

  visibleHead(): number {
    return this.#parts.sequencer.committed;
  }

  /** Claims the lease again if work waits, and commits what is due. */
  async alarm(room: Room, now: number): Promise<void> {
    if (!this.#lease) {
      if (!this.#parts.hasSockets() && this.#parts.store.outbox.depth === 0) return;
      if ((await this.ready(room)) !== true) {
        if (this.#parts.hasSockets()) this.#moved(MOVED);
        return;
      }
    }
    if (this.#lease && this.#parts.store.outbox.due(now)) await this.#commit(room.id);
  }

  dueAt(now: number): number | null {
    // A commit in flight sets the alarm itself if it fails.
    return this.#committing ? null : this.#parts.store.outbox.dueAt(now);
  }

  /** Gives the room up at once (drain, or another process asked for it). */
  async release(reason: string): Promise<void> {
    const lease = this.#lease;
    const room = this.#parts.store.room;
    if (!lease || !room) return;
    this.#moved(reason);
    if (!this.#parts.database.configured) return;
    try {
      await this.#parts.database.call("lease release", (db, roomId) => db.release(roomId, lease.epoch));
    } catch (error) {
      console.error(`room ${room.id}: lease release failed (it expires by itself): ${errorText(error)}`);
    }
  }

  /**
   * The lease with `epoch` was lost, or another process asked for the room.
   * News of an epoch this object no longer holds is stale and ignored.
   */
  async leaseEvent(epoch: number, event: LeaseEvent): Promise<void> {
    const held = this.#lease?.epoch;
    if (held !== undefined && held !== epoch) return;
    if (held === undefined) {
      // The object was evicted (or hibernated) since it claimed `epoch`: the
      // keeper still renews a lease nobody here remembers. Sockets it may
      // hold go to the new owner, and a wanted room is given up at once.
      this.#moved(MOVED);
      if (event === "wanted" && this.#parts.store.room) {
        await this.#parts.database.call("lease release", (db, roomId) => db.release(roomId, epoch)).catch(() => {});
      }
      return;
    }
    if (event === "lost") this.#moved(MOVED);
    else await this.release(HANDED_OVER);
  }

  async #claim(room: Room): Promise<true | RoomRefusal> {
    const { database, sequencer, config } = this.#parts;
    if (!database.configured) return "database_unavailable";
    try {
      const claim = await database.call<ClaimResult>("lease claim", (db, roomId) =>
        db.claim(roomId, sequencer.committed, config.logRetention.count),
      );
      if (!claim.ok) {
        this.#retryAfterS = Math.max(1, Math.ceil(claim.remainingMs / 1000));
        return "overloaded";
      }
      sequencer.adoptArchive(claim.archived, claim.archivedHead);
      this.#lease = { nodeId: this.#nodeId, epoch: claim.epoch, ttlMs: config.leaseTtlMs };
      return true;
    } catch (error) {
      console.error(`room ${room.id}: cannot claim the room's lease: ${errorText(error)}`);
      return "database_unavailable";
    }
  }

  #committedThrough(roomId: string, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(seq) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(seq, list);
      void this.#commit(roomId);
    });
  }

  /** Commits the outbox in batches, fenced by the lease; broadcasts and acks what committed. */
  async #commit(roomId: string): Promise<void> {
    if (this.#committing) return;
    const { store, sequencer, database, config } = this.#parts;
    this.#committing = true;
    try {
      while (this.#lease && store.outbox.depth > 0 && database.configured) {
        const lease: Lease = this.#lease;
        let held = true;
        let wanted = false;
        const result = await store.outbox.flush(
          async (batch) => {
            ({ held, wanted } = await database.service(roomId).commit(roomId, lease.epoch, batch));
          },
          { batchSize: config.outboxBatchSize, timeoutMs: database.timeoutMs },
        );
        if (!result.ok) {
          metrics.outboxFlush.inc({ result: "error" });
          this.#settle(sequencer.head, result.cause);
          console.error(`room ${roomId}: commit failed (${result.failures} in a row): ${result.error}`);
          break;
        }
        if (!held) {
          // Nothing of this batch was written: the lease moved to another process.
          metrics.outboxFlush.inc({ result: "error" });
          this.#moved(MOVED);
          break;
        }
        const last = result.messages.at(-1);
        if (last) sequencer.markCommitted(last.seq);
        sequencer.prune();
        metrics.outboxFlush.inc({ result: "ok" });
        for (const message of result.messages) this.#parts.committed(message);
        this.#parts.outboxChanged();
        if (last) this.#settle(last.seq);
        if (wanted) await this.release(HANDED_OVER);
        if (!last) break;
      }
    } finally {
      this.#committing = false;
    }
    // Sends that failed stay in the outbox; their senders retry, or the alarm does.
    await this.#parts.arm();
  }

  /** Resolves (or with `error`, rejects) every send waiting on a seq up to `through`. */
  #settle(through: number, error?: unknown): void {
    for (const [seq, list] of [...this.#waiters].sort((a, b) => a[0] - b[0])) {
      if (seq > through) break;
      this.#waiters.delete(seq);
      for (const waiter of list) {
        if (error === undefined) waiter.resolve();
        else waiter.reject(error);
      }
    }
  }

  /** The lease is gone: nothing more is acknowledged here; clients reconnect to the new owner. */
  #moved(reason: string): void {
    this.#lease = undefined;
    this.#settle(Number.MAX_SAFE_INTEGER, new Error(reason));
    this.#parts.moved(reason);
  }
}
