import type { Message } from "../../protocol/index.ts";
import { MESSAGE_COLUMNS as COLUMNS, messageFromRow, messageValues, type MessageRow } from "../../sql/rows.ts";
import type { RoomSql } from "./room-sql.ts";

/**
 * The room's message log in its SQLite: the source of truth for order. It
 * keeps the newest messages (retention); PostgreSQL holds the rest. Rows
 * carry no room id: one object serves one room.
 */
export class MessageLog {
  readonly #sql: RoomSql;
  readonly #roomId: () => string;

  constructor(sql: RoomSql, roomId: () => string) {
    this.#sql = sql;
    this.#roomId = roomId;
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      username TEXT NOT NULL,
      body TEXT NOT NULL,
      client_msg_id TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`);
  }

  /** The highest seq in the log, 0 when empty. */
  top(): number {
    return this.#sql.exec<{ top: number | null }>("SELECT max(seq) AS top FROM messages").one().top ?? 0;
  }

  /** The lowest seq still in the log; null when the log is empty. */
  floor(): number | null {
    return this.#sql.exec<{ floor: number | null }>("SELECT min(seq) AS floor FROM messages").one().floor;
  }

  /** Adds a message (inside the caller's transaction); `ignoreExisting` for messages PostgreSQL gave back. */
  insert(m: Message, ignoreExisting = false): void {
    this.#sql.exec(
      `INSERT ${ignoreExisting ? "OR IGNORE " : ""}INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ...messageValues(m),
    );
  }

  /** One message, if it is still in the log. */
  get(seq: number): Message | null {
    const row = this.#sql.exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq = ?`, seq).toArray()[0];
    return row ? this.#toMessage(row) : null;
  }

  /** Messages with afterSeq < seq < beforeSeq, ascending, at most `limit`. */
  range(afterSeq: number, beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?`, afterSeq, beforeSeq, limit)
      .toArray()
      .map((row) => this.#toMessage(row));
  }

  /** The newest `limit` messages before `beforeSeq`, ascending. */
  latest(beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`, beforeSeq, limit)
      .toArray()
      .reverse()
      .map((row) => this.#toMessage(row));
  }

  /** Drops messages above `seq` (appended here, never committed). */
  dropAbove(seq: number): void {
    this.#sql.exec("DELETE FROM messages WHERE seq > ?", seq);
  }

  /** Drops messages below `seq` (so that the log stays contiguous). */
  dropBelow(seq: number): void {
    this.#sql.exec("DELETE FROM messages WHERE seq < ?", seq);
  }

  /** Drops messages up to `through` and below `keepFrom`; returns how many. A primary-key range. */
  dropThrough(through: number, keepFrom: number): number {
    return this.#sql.exec("DELETE FROM messages WHERE seq <= ? AND seq < ?", through, keepFrom).rowsWritten;
  }

  /** Drops messages created before `cutoff` and below `keepFrom`; reads the whole log (no index on age). */
  dropOlderThan(cutoff: Date, keepFrom: number): number {
    return this.#sql.exec("DELETE FROM messages WHERE created_at < ? AND seq < ?", cutoff.toISOString(), keepFrom).rowsWritten;
  }

  #toMessage(row: MessageRow): Message {
    return messageFromRow(this.#roomId(), row);
  }
}
