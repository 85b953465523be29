// A message as a table row: the one mapping between `Message` and the
// snake_case columns of both message tables, PostgreSQL's archive
// (sql/migrations) and each room's SQLite log (durable-objects/room/).
// Import nothing here but protocol/: the rooms import this file too.
import type { Message } from "../protocol/index.ts";

/** The columns of a message row, in the order of {@link messageValues}. */
export const MESSAGE_COLUMNS = "seq, id, user_id, username, body, client_msg_id, created_at";

/** A message row as SQLite stores it (the room's log): `seq` an integer, `created_at` ISO 8601 text. */
export type MessageRow = {
  seq: number;
  id: string;
  user_id: string;
  username: string;
  body: string;
  client_msg_id: string;
  created_at: string;
};

/** A message row as postgres.js reads it from the archive: `seq` a bigint (as text), `created_at` a timestamptz. */
export type ArchivedMessageRow = Omit<MessageRow, "seq" | "created_at"> & { seq: string; created_at: Date };

/** The message of a row of room `roomId`'s log or archive. */
export function messageFromRow(roomId: string, row: MessageRow | ArchivedMessageRow): Message {
  return {
    seq: Number(row.seq),
    id: row.id,
    roomId,
    userId: row.user_id,
    username: row.username,
    body: row.body,
    clientMsgId: row.client_msg_id,
    createdAt: typeof row.created_at === "string" ? row.created_at : row.created_at.toISOString(),
  };
}

/** The row of a message, with its room (the archive's `room_id`). */
export function messageToRow(message: Message): MessageRow & { room_id: string } {
  return {
    room_id: message.roomId,
    seq: message.seq,
    id: message.id,
    user_id: message.userId,
    username: message.username,
    body: message.body,
    client_msg_id: message.clientMsgId,
    created_at: message.createdAt,
  };
}

/** A message's values in the order of {@link MESSAGE_COLUMNS}, for `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (?, …)`. */
export function messageValues(message: Message): [number, string, string, string, string, string, string] {
  return [message.seq, message.id, message.userId, message.username, message.body, message.clientMsgId, message.createdAt];
}
