import { afterAll, describe, expect, inject, it } from "vitest";
import type { Message } from "../protocol/index.ts";
import { createSql } from "./db.ts";
import { insertMessages, insertRoom, insertUser, selectMessages } from "./queries.ts";
import { MESSAGE_COLUMNS, messageFromRow, messageToRow, messageValues, type ArchivedMessageRow, type MessageRow } from "./rows.ts";

const message: Message = {
  seq: 42,
  id: "6f1c1b9e-4a4e-4c4b-9a53-0c2f1b6b7d10",
  roomId: "lobby",
  userId: "0b6e0d3c-2f4e-4f55-8d59-3c1e7d6f0a21",
  username: "ada",
  body: "hello",
  clientMsgId: "c-1",
  createdAt: "2026-03-04T05:06:07.089Z",
};

describe("the message row", () => {
  it("maps a message to its row and back, in SQLite's types", () => {
    const { room_id, ...row } = messageToRow(message);
    expect(room_id).toBe("lobby");
    expect(row).toEqual({
      seq: 42,
      id: message.id,
      user_id: message.userId,
      username: "ada",
      body: "hello",
      client_msg_id: "c-1",
      created_at: "2026-03-04T05:06:07.089Z",
    } satisfies MessageRow);
    expect(messageFromRow("lobby", row)).toEqual(message);
  });

  it("reads PostgreSQL's types: a bigint as text and a timestamptz as a Date", () => {
    const { room_id: _roomId, ...row } = messageToRow(message);
    const archived: ArchivedMessageRow = { ...row, seq: "42", created_at: new Date(message.createdAt) };
    expect(messageFromRow("lobby", archived)).toEqual(message);
  });

  it("lists its values in the order of its columns", () => {
    const row = messageToRow(message);
    const columns = MESSAGE_COLUMNS.split(", ") as (keyof MessageRow)[];
    expect(columns).toHaveLength(7);
    expect(messageValues(message)).toEqual(columns.map((column) => row[column]));
  });
});

describe("the archive", () => {
  const sql = createSql(inject("databaseUrl"));
  const suffix = crypto.randomUUID().slice(0, 8);
  const userId = crypto.randomUUID();
  const roomId = `rows-${suffix}`;
  afterAll(async () => {
    await sql`DELETE FROM messages WHERE room_id = ${roomId}`;
    await sql`DELETE FROM room_members WHERE room_id = ${roomId}`;
    await sql`DELETE FROM rooms WHERE id = ${roomId}`;
    await sql`DELETE FROM users WHERE id = ${userId}`;
    await sql.end({ timeout: 5 });
  });

  it("gives back what was copied into it, through the same row", async () => {
    await insertUser(sql, { id: userId, username: `rows-${suffix}`, passwordHash: "x" });
    await insertRoom(sql, { id: roomId, name: roomId, type: "public", ownerId: userId });
    const messages: Message[] = [1, 2, 3].map((seq) => ({
      ...message,
      seq,
      id: crypto.randomUUID(),
      roomId,
      userId,
      clientMsgId: `c-${seq}`,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    }));
    expect(await insertMessages(sql, messages)).toBe(3);
    expect(await selectMessages(sql, roomId, { afterSeq: 0, beforeSeq: 10, limit: 10 })).toEqual(messages);
    expect(await selectMessages(sql, roomId, { afterSeq: 0, beforeSeq: 10, limit: 2, newest: true })).toEqual(messages.slice(1));
  });
});
