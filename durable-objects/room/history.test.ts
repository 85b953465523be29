import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Message, Room, User } from "../../protocol/index.ts";
import { createWorkerdSql } from "../../sql/workerd.ts";
import { call, connect, createRoom, drainOutbox, signUp, stubOf } from "../../test/support/api.ts";

// The workers project keeps 20 copied messages per room log (vitest.config.ts).
const pg = createWorkerdSql(env.DATABASE_URL);

async function roomOf(token: string, roomId: string): Promise<Room> {
  return ((await (await call(`/rooms/${roomId}`, { token })).json()) as { room: Room }).room;
}

/** Publishes `n` messages through the room's RPC (the REST publish path). */
async function publish(roomId: string, token: string, user: User, from: number, n: number): Promise<void> {
  const room = await roomOf(token, roomId);
  const stub = stubOf(roomId);
  for (let i = from; i < from + n; i++) {
    const result = await stub.publish(room, user, { clientMsgId: `h${i}`, body: `m${i}` });
    if (!result.ok) throw new Error(result.code);
  }
}

async function logSeqs(roomId: string): Promise<number[]> {
  return runInDurableObject(stubOf(roomId), (_i, state) =>
    state.storage.sql
      .exec<{ seq: number }>("SELECT seq FROM messages ORDER BY seq")
      .toArray()
      .map((r) => r.seq),
  );
}

async function history(token: string, roomId: string, query: string): Promise<number[]> {
  const response = await call(`/rooms/${roomId}/messages${query}`, { token });
  expect(response.status).toBe(200);
  return ((await response.json()) as { messages: Message[] }).messages.map((m) => m.seq);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("room log retention and the PostgreSQL archive", () => {
  it("prunes copied messages past the retention, and serves history across the log and PostgreSQL", async () => {
    const { token, user } = await signUp();
    const roomId = await createRoom(token);
    await publish(roomId, token, user, 1, 60);
    await drainOutbox(roomId);
    expect(await logSeqs(roomId)).toEqual(range(41, 60));

    // Not yet copied: only in the room's log.
    await publish(roomId, token, user, 61, 10);
    expect(await history(token, roomId, "?after=0&limit=200")).toEqual(range(1, 70));
    expect(await history(token, roomId, "?after=35&limit=10")).toEqual(range(36, 45));
    expect(await history(token, roomId, "?before=45&limit=10")).toEqual(range(35, 44));
    expect(await history(token, roomId, "?limit=30")).toEqual(range(41, 70));
    expect(await history(token, roomId, "?before=10&limit=50")).toEqual(range(1, 9));
  });

  it("replays a resume from PostgreSQL and the log, in order, then live messages", async () => {
    const { token, user } = await signUp();
    const roomId = await createRoom(token);
    await publish(roomId, token, user, 1, 50);
    await drainOutbox(roomId);
    await publish(roomId, token, user, 51, 5);
    const client = await connect(roomId, token, "?lastSeq=10");
    const replayed = await client.waitFor("message", 45);
    expect(replayed.map((m) => m.seq)).toEqual(range(11, 55));
    expect(replayed[0]).toMatchObject({ body: "m11", roomId });
    client.send({ type: "send", clientMsgId: "live", body: "live" });
    expect((await client.waitFor("message", 46)).at(-1)?.seq).toBe(56);
    expect(client.of("resync_required")).toEqual([]);
    client.close();
  });

  it("sends resync_required, never a silent hole, when the archive lacks the range", async () => {
    const { token, user } = await signUp();
    const roomId = await createRoom(token);
    await publish(roomId, token, user, 1, 40);
    await drainOutbox(roomId);
    // Simulates an archive that lost rows (restored from an older backup).
    await pg`DELETE FROM messages WHERE room_id = ${roomId} AND seq <= 5`;
    const client = await connect(roomId, token, "?lastSeq=0");
    expect(await client.waitFor("resync_required")).toEqual([{ type: "resync_required", fromSeq: 1 }]);
    expect(client.of("message")).toEqual([]);
    client.close();
  });

  it("caps a resume at 1000 messages and names the first seq it did not send", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    // Six users, each within the message budget's burst (200 in the test config), which is per user.
    for (let from = 1; from <= 1005; from += 200) await publish(roomId, token, (await signUp()).user, from, Math.min(200, 1006 - from));
    const client = await connect(roomId, token, "?lastSeq=0");
    const [resync] = await client.waitFor("resync_required", 1, 15_000);
    expect(resync).toEqual({ type: "resync_required", fromSeq: 1001 });
    expect(client.of("message").map((m) => m.seq)).toEqual(range(1, 1000));
    client.close();
  }, 60_000);

  it("continues seq from PostgreSQL when the room's storage is empty (a new node or a lost disk)", async () => {
    const { token, user } = await signUp();
    const roomId = await createRoom(token);
    await publish(roomId, token, user, 1, 5);
    await drainOutbox(roomId);
    const stub = stubOf(roomId);
    await runInDurableObject(stub, (_i, state) => state.storage.deleteAll());
    await evictDurableObject(stub);

    const client = await connect(roomId, token);
    const [welcome] = await client.waitFor("welcome");
    expect(welcome?.headSeq).toBe(5);
    client.send({ type: "send", clientMsgId: "after-loss", body: "after" });
    expect((await client.waitFor("ack"))[0]?.seq).toBe(6);
    expect(await history(token, roomId, "?after=0")).toEqual(range(1, 6));
    client.close();
  });
});
