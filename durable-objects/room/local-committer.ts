import type { Message, Room, User } from "../../protocol/index.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { errorText, type Committer, type CommitterParts, type RoomRefusal, type SendOutcome } from "./committer.ts";

/** Without PostgreSQL the outbox is kept and looked at again this much later. */
const NO_DATABASE_RETRY_MS = 60_000;

/**
 * Single process: a message is acknowledged and broadcast once the room's
 * SQLite holds it (the output gate holds every frame until the write is
 * durable). The outbox is copied to PostgreSQL at once, through the database
 * service, one copy in flight per room so that copies end in seq order; a
 * failed copy is retried by the alarm, with backoff.
 */
export class LocalCommitter implements Committer {
  readonly retryAfterS = 5;
  readonly #parts: CommitterParts;
  /** A copy is in flight. */
  #copying = false;

  constructor(parts: CommitterParts) {
    this.#parts = parts;
  }

  /**
   * Before the first message of this object's storage: continue after the
   * highest seq PostgreSQL holds for the room, so that a room whose SQLite is
   * new (a fresh node, a lost disk) never reuses a seq. While PostgreSQL
   * cannot answer, the room refuses work rather than guess.
   */
  async ready(room: Room): Promise<true | RoomRefusal> {
    const { sequencer, database } = this.#parts;
    if (sequencer.headChecked) return true;
    if (!database.configured) {
      sequencer.adoptArchivedHead(0);
      return true;
    }
    await this.#parts.exclusive(async () => {
      if (sequencer.headChecked) return;
      try {
        sequencer.adoptArchivedHead(await database.call("head check", (db, roomId) => db.archivedHead(roomId)));
      } catch (error) {
        console.error(`room ${room.id}: cannot read the archived head: ${errorText(error)}`);
      }
    });
    return sequencer.headChecked ? true : "database_unavailable";
  }

  async accept(room: Room, user: User, clientMsgId: string, body: string): Promise<SendOutcome> {
    const accepted = this.#parts.sequencer.accept(user, clientMsgId, body);
    if (accepted.kind !== "stored") return accepted;
    this.#parts.committed(accepted.message);
    this.#parts.outboxChanged();
    // The copy starts now, batched with other rooms' by the database service.
    // A send sets no alarm: a failed copy sets it for its retry (and while
    // that backoff runs, only the alarm retries).
    if (!this.#parts.store.outbox.backingOff(Date.now())) this.#parts.background(this.#copy(room.id, accepted.message));
    return accepted;
  }

  visibleHead(): number {
    return this.#parts.sequencer.head;
  }

  async alarm(room: Room, now: number): Promise<void> {
    if (this.#parts.store.outbox.due(now)) await this.#copy(room.id);
  }

  dueAt(now: number): number | null {
    // A copy in flight sets the alarm itself if it fails.
    return this.#copying ? null : this.#parts.store.outbox.dueAt(now);
  }

  async release(): Promise<void> {}

  async leaseEvent(): Promise<void> {}

  /** Copies the outbox batch after batch; a failure leaves the rest for the alarm. */
  async #copy(roomId: string, fresh?: Message): Promise<void> {
    if (this.#copying) return;
    const { store, sequencer, database, config } = this.#parts;
    if (!database.configured) {
      store.outbox.defer(Date.now(), NO_DATABASE_RETRY_MS);
      await this.#parts.arm();
      return;
    }
    this.#copying = true;
    let failed = false;
    try {
      while (store.outbox.depth > 0) {
        const result = await store.outbox.flush((batch) => database.service(roomId).copy(batch), {
          batchSize: config.outboxBatchSize,
          timeoutMs: database.timeoutMs,
          only: fresh,
        });
        fresh = undefined;
        metrics.outboxFlush.inc({ result: result.ok ? "ok" : "error" });
        this.#parts.outboxChanged();
        if (!result.ok) {
          console.error(`room ${roomId}: outbox copy failed (${result.failures} in a row): ${result.error}`);
          failed = true;
          break;
        }
        sequencer.prune();
        if (result.copied === 0) break;
      }
    } finally {
      this.#copying = false;
    }
    if (failed) await this.#parts.arm();
  }
}
