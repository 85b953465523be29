import { RoomSchema, type Message, type Room, type User } from "../../protocol/index.ts";

type MessageRow = {
  seq: number;
  id: string;
  user_id: string;
  username: string;
  body: string;
  client_msg_id: string;
  created_at: string;
};

const COLUMNS = "seq, id, user_id, username, body, client_msg_id, created_at";

/**
 * The room's own SQLite: the message log (the room's source of truth for
 * order), the outbox of messages not yet copied to PostgreSQL, and metadata.
 * Every method is synchronous; SQLite writes are covered by the output gate,
 * so nothing sent after a write leaves the object before the write is durable.
 */
export class RoomStore {
  readonly #sql: SqlStorage;
  readonly #storage: DurableObjectStorage;
  #head: number;
  // Read on every frame, so kept in memory once loaded.
  #room: Room | null | undefined;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#sql = storage.sql;
    // Created once, before any message is handled (the constructor runs first).
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        username TEXT NOT NULL,
        body TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (user_id, client_msg_id)
      );
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY);
    `);
    this.#head = this.#sql.exec<{ head: number | null }>("SELECT max(seq) AS head FROM messages").one().head ?? 0;
  }

  /** The highest seq stored, 0 for an empty room. */
  get head(): number {
    return this.#head;
  }

  /** The room this object serves, once the Worker has told it. */
  get room(): Room | null {
    if (this.#room !== undefined) return this.#room;
    const row = this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'room'").toArray()[0];
    const parsed = row ? RoomSchema.safeParse(JSON.parse(row.value)) : undefined;
    this.#room = parsed?.success ? parsed.data : null;
    return this.#room;
  }

  /** Remembers the room's metadata (the Worker sends it with every call). */
  saveRoom(room: Room): void {
    const current = this.room;
    if (current && current.id === room.id && current.name === room.name && current.type === room.type) return;
    this.#room = room;
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES ('room', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(room),
    );
  }

  /** The message this user already sent with this client id, if any. */
  findByClientMsgId(roomId: string, userId: string, clientMsgId: string): Message | null {
    const row = this.#sql
      .exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE user_id = ? AND client_msg_id = ?`, userId, clientMsgId)
      .toArray()[0];
    return row ? toMessage(roomId, row) : null;
  }

  /** Stores a new message with the next seq, and queues it for PostgreSQL, in one transaction. */
  append(roomId: string, user: User, clientMsgId: string, body: string): Message {
    const message: Message = {
      seq: this.#head + 1,
      id: crypto.randomUUID(),
      roomId,
      userId: user.id,
      username: user.username,
      body,
      clientMsgId,
      createdAt: new Date().toISOString(),
    };
    this.#storage.transactionSync(() => {
      this.#sql.exec(
        `INSERT INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        message.seq,
        message.id,
        message.userId,
        message.username,
        message.body,
        message.clientMsgId,
        message.createdAt,
      );
      this.#sql.exec("INSERT INTO outbox (seq) VALUES (?)", message.seq);
    });
    // Only after the transaction committed: a failed write leaves no gap.
    this.#head = message.seq;
    return message;
  }

  /** Messages with afterSeq < seq < beforeSeq, ascending, at most `limit`. */
  range(roomId: string, afterSeq: number, beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(
        `SELECT ${COLUMNS} FROM messages WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?`,
        afterSeq,
        beforeSeq,
        limit,
      )
      .toArray()
      .map((row) => toMessage(roomId, row));
  }

  /** The newest `limit` messages before `beforeSeq`, ascending. */
  latest(roomId: string, beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`, beforeSeq, limit)
      .toArray()
      .reverse()
      .map((row) => toMessage(roomId, row));
  }

  /** The oldest messages still waiting for PostgreSQL, ascending. */
  outboxBatch(roomId: string, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(
        `SELECT ${COLUMNS.split(", ").map((c) => `m.${c}`).join(", ")}
         FROM outbox o JOIN messages m ON m.seq = o.seq ORDER BY o.seq LIMIT ?`,
        limit,
      )
      .toArray()
      .map((row) => toMessage(roomId, row));
  }

  /** Drops outbox entries up to and including `seq` once PostgreSQL holds them. */
  markCopied(seq: number): void {
    this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", seq);
  }

  /** Messages still waiting for PostgreSQL. */
  get outboxDepth(): number {
    return this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  /** Reads a numeric counter from meta (0 when unset). */
  counter(key: string): number {
    const row = this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0];
    return row ? Number(row.value) : 0;
  }

  /** Writes a numeric counter to meta. */
  setCounter(key: string, value: number): void {
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      String(value),
    );
  }
}

function toMessage(roomId: string, row: MessageRow): Message {
  return {
    seq: row.seq,
    id: row.id,
    roomId,
    userId: row.user_id,
    username: row.username,
    body: row.body,
    clientMsgId: row.client_msg_id,
    createdAt: row.created_at,
  };
}
