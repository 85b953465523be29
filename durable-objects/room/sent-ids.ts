import type { RoomSql } from "./room-sql.ts";

/**
 * The dedupe window: the seq each user's client message id got. Entries older
 * than the window are ignored by {@link find}, so that forgetting them can be
 * lazy (a full scan at most once a minute, see Sequencer#prune).
 */
export class SentIds {
  readonly #sql: RoomSql;

  constructor(sql: RoomSql) {
    this.#sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS sent (
        user_id TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_msg_id)
      );
      CREATE INDEX IF NOT EXISTS sent_at ON sent (at_ms);
    `);
  }

  /** The seq this user's message with this client id got, if stored at or after `since`. */
  find(userId: string, clientMsgId: string, since: number): number | null {
    const row = this.#sql
      .exec<{ seq: number }>("SELECT seq FROM sent WHERE user_id = ? AND client_msg_id = ? AND at_ms >= ?", userId, clientMsgId, since)
      .toArray()[0];
    return row?.seq ?? null;
  }

  /** Remembers a stored message's client id (inside the caller's transaction). */
  remember(userId: string, clientMsgId: string, seq: number, atMs: number): void {
    this.#sql.exec("INSERT OR REPLACE INTO sent (user_id, client_msg_id, seq, at_ms) VALUES (?, ?, ?, ?)", userId, clientMsgId, seq, atMs);
  }

  /** Forgets ids of messages above `seq` (dropped from the log, never committed). */
  forgetAbove(seq: number): void {
    this.#sql.exec("DELETE FROM sent WHERE seq > ?", seq);
  }

  /** Forgets ids stored before `atMs` (past the window). */
  forgetBefore(atMs: number): void {
    this.#sql.exec("DELETE FROM sent WHERE at_ms < ?", atMs);
  }
}
