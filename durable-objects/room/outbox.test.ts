import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createWorkerdSql } from "../../sql/workerd.ts";
import { insertMessages } from "../../sql/queries.ts";
import { connect, createRoom, drainOutbox, signUp, stubOf } from "../../test/support/api.ts";
import { retryDelayMs } from "./outbox.ts";

// One client per file; not ended (see docs/decisions.md on sql.end() in workerd).
const pg = createWorkerdSql(env.DATABASE_URL);

async function archived(roomId: string): Promise<{ seq: number; body: string }[]> {
  const rows = await pg<{ seq: string; body: string }[]>`SELECT seq, body FROM messages WHERE room_id = ${roomId} ORDER BY seq`;
  return rows.map((r) => ({ seq: Number(r.seq), body: r.body }));
}

describe("outbox to PostgreSQL", () => {
  it("copies every message to PostgreSQL, in order, and empties the outbox", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const client = await connect(roomId, token);
    for (let i = 1; i <= 30; i++) client.send({ type: "send", clientMsgId: `o${i}`, body: `b${i}` });
    await client.waitFor("ack", 30);
    // The alarm is already scheduled by the sends; run it now instead of waiting.
    await drainOutbox(roomId);
    expect(await archived(roomId)).toEqual(Array.from({ length: 30 }, (_, i) => ({ seq: i + 1, body: `b${i + 1}` })));
    client.close();
  });

  it("copies a batch again without duplicates (a lost reply is retried)", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const client = await connect(roomId, token);
    client.send({ type: "send", clientMsgId: "once", body: "once" });
    await client.waitFor("ack");
    await drainOutbox(roomId);
    // Copy the same rows again, as a retry after a lost commit reply would.
    const room = { id: roomId, name: roomId, type: "public" as const, createdAt: new Date().toISOString() };
    const again = await stubOf(roomId).history(room, { after: 0, limit: 10 });
    if (!again.ok) throw new Error(again.code);
    expect(await insertMessages(pg, again.messages)).toBe(0);
    expect(await archived(roomId)).toEqual([{ seq: 1, body: "once" }]);
    client.close();
  });
});

describe("dedupe window", () => {
  it("acks a resend inside DEDUPE_WINDOW with the first seq, and stores it anew after the window", async () => {
    // DEDUPE_WINDOW is 3 s in the workers project (vitest.config.ts).
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const client = await connect(roomId, token);
    client.send({ type: "send", clientMsgId: "again", body: "first" });
    client.send({ type: "send", clientMsgId: "again", body: "first" });
    expect((await client.waitFor("ack", 2)).map((a) => a.seq)).toEqual([1, 1]);
    await new Promise((r) => setTimeout(r, 3500));
    // Pruning (of the log and of remembered client ids) runs after a copy.
    client.send({ type: "send", clientMsgId: "other", body: "x" });
    await client.waitFor("ack", 3);
    await drainOutbox(roomId);
    client.send({ type: "send", clientMsgId: "again", body: "first" });
    expect((await client.waitFor("ack", 4)).at(-1)?.seq).toBe(3);
    client.close();
  });
});

describe("retryDelayMs", () => {
  it("grows exponentially, is capped, and jitters within its upper half", () => {
    expect(retryDelayMs(1, () => 0)).toBe(250);
    expect(retryDelayMs(1, () => 1)).toBe(500);
    expect(retryDelayMs(4, () => 1)).toBe(4000);
    expect(retryDelayMs(30, () => 1)).toBe(30_000);
    expect(retryDelayMs(30, () => 0)).toBe(15_000);
  });
});
