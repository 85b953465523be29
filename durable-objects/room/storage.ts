import { RoomSchema, type Room } from "../../protocol/index.ts";
import { MessageLog } from "./message-log.ts";
import { Outbox } from "./outbox.ts";
import { Meta, Transaction, type RoomSql } from "./room-sql.ts";
import { SentIds } from "./sent-ids.ts";

/**
 * The room's own SQLite, table by table: the message log, the outbox of
 * messages PostgreSQL does not hold yet, the dedupe window of client message
 * ids, and meta. Every method is synchronous; SQLite writes are covered by
 * the output gate, so nothing sent after a write leaves the object before the
 * write is durable. The order of messages is the sequencer's job.
 */
export class RoomStore {
  readonly meta: Meta;
  readonly log: MessageLog;
  readonly sent: SentIds;
  readonly outbox: Outbox;
  readonly #sql: RoomSql;
  // Read on every frame, so kept in memory once loaded.
  #room: Room | null | undefined;

  constructor(sql: RoomSql) {
    this.#sql = sql;
    this.meta = new Meta(sql);
    this.log = new MessageLog(sql, () => this.room?.id ?? "");
    this.sent = new SentIds(sql);
    this.outbox = new Outbox(sql, this.meta, this.log);
  }

  /** One write transaction over the tables (see {@link Transaction}). */
  transaction(work: (tx: Transaction) => void): void {
    Transaction.run(this.#sql, this.meta, work);
  }

  /** The room this object serves, once the Worker has told it. */
  get room(): Room | null {
    if (this.#room !== undefined) return this.#room;
    const value = this.meta.get("room");
    const parsed = value === null ? undefined : RoomSchema.safeParse(JSON.parse(value));
    this.#room = parsed?.success ? parsed.data : null;
    return this.#room;
  }

  /** Remembers the room's metadata (the Worker sends it with every call). */
  saveRoom(room: Room): void {
    const current = this.room;
    if (current && current.id === room.id && current.name === room.name && current.type === room.type) return;
    this.#room = room;
    this.meta.set("room", JSON.stringify(room));
  }
}
