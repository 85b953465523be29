import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { connect, createRoom, signUp, stubOf } from "../../test/support/api.ts";

/** Alice creates a public room; Alice and Bob are connected and welcomed. */
async function twoInARoom() {
  const alice = await signUp("alice");
  const bob = await signUp("bob");
  const roomId = await createRoom(alice.token);
  const a = await connect(roomId, alice.token);
  const b = await connect(roomId, bob.token);
  await a.waitFor("welcome");
  await b.waitFor("welcome");
  return { alice, bob, roomId, a, b };
}

describe("ChatRoom over real WebSockets", () => {
  it("greets with a welcome, then two users chat: everyone gets the message, the sender an ack", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    const roomId = await createRoom(alice.token);
    const a = await connect(roomId, alice.token);
    const [welcome] = await a.waitFor("welcome");
    expect(welcome).toMatchObject({ room: { id: roomId, type: "public" }, user: alice.user, headSeq: 0 });
    expect(welcome?.presence).toEqual([{ userId: alice.user.id, username: alice.user.username }]);
    expect(a.frames[0]?.type).toBe("welcome");

    const b = await connect(roomId, bob.token);
    const [bobWelcome] = await b.waitFor("welcome");
    expect(bobWelcome?.presence.map((p) => p.userId).sort()).toEqual([alice.user.id, bob.user.id].sort());
    const [join] = await a.waitFor("presence");
    expect(join).toEqual({ type: "presence", event: "join", user: { userId: bob.user.id, username: bob.user.username } });

    a.send({ type: "send", clientMsgId: "hello-1", body: "hi bob" });
    const [ack] = await a.waitFor("ack");
    expect(ack).toEqual({ type: "ack", clientMsgId: "hello-1", seq: 1 });
    const [atBob] = await b.waitFor("message");
    expect(atBob).toMatchObject({
      seq: 1,
      roomId,
      userId: alice.user.id,
      username: alice.user.username,
      body: "hi bob",
      clientMsgId: "hello-1",
    });
    expect((await a.waitFor("message"))[0]).toEqual(atBob);
    expect(b.of("ack")).toEqual([]);

    b.close();
    const leave = await a.until((f) => f.find((x) => x.type === "presence" && x.event === "leave"), "leave");
    expect(leave).toMatchObject({ user: { userId: bob.user.id } });
    a.close();
  });

  it("keeps the order of 100 messages, gapless, for sender and receiver", async () => {
    const { a, b } = await twoInARoom();
    // All at once: the test config's burst (200) admits them, see vitest.config.ts.
    for (let i = 0; i < 100; i++) a.send({ type: "send", clientMsgId: `m${i}`, body: `n=${i}` });
    const acks = await a.waitFor("ack", 100, 15_000);
    const received = await b.waitFor("message", 100, 15_000);
    expect(acks.map((x) => x.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(received.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(received.map((m) => m.body)).toEqual(Array.from({ length: 100 }, (_, i) => `n=${i}`));
    expect(a.of("error")).toEqual([]);
    a.close();
    b.close();
  });

  it("acks only after the message row exists in the room's SQLite", async () => {
    const alice = await signUp();
    const roomId = await createRoom(alice.token);
    const a = await connect(roomId, alice.token);
    a.send({ type: "send", clientMsgId: "durable", body: "stored first" });
    const [ack] = await a.waitFor("ack");
    const rows = await runInDurableObject(stubOf(roomId), (_instance, state) =>
      state.storage.sql.exec("SELECT seq, body FROM messages WHERE client_msg_id = 'durable'").toArray(),
    );
    expect(rows).toEqual([{ seq: ack?.seq, body: "stored first" }]);
    a.close();
  });

  it("stores a repeated clientMsgId once and acks it with the first seq", async () => {
    const alice = await signUp();
    const roomId = await createRoom(alice.token);
    const a = await connect(roomId, alice.token);
    a.send({ type: "send", clientMsgId: "same", body: "first" });
    a.send({ type: "send", clientMsgId: "other", body: "second" });
    a.send({ type: "send", clientMsgId: "same", body: "first again" });
    const acks = await a.waitFor("ack", 3);
    expect(acks.map((x) => [x.clientMsgId, x.seq])).toEqual([
      ["same", 1],
      ["other", 2],
      ["same", 1],
    ]);
    await a.waitFor("message", 2);
    // Give a wrongly broadcast duplicate the time to arrive before counting.
    a.send({ type: "ping" });
    await a.waitFor("pong");
    expect(a.of("message").map((m) => m.body)).toEqual(["first", "second"]);
    a.close();
  });

  it("replays exactly the missed messages on resume, by frame and by ?lastSeq", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    const roomId = await createRoom(alice.token);
    const b1 = await connect(roomId, bob.token);
    const a = await connect(roomId, alice.token);
    for (let i = 1; i <= 3; i++) a.send({ type: "send", clientMsgId: `x${i}`, body: `x${i}` });
    await b1.waitFor("message", 3);
    b1.close();
    for (let i = 4; i <= 7; i++) a.send({ type: "send", clientMsgId: `x${i}`, body: `x${i}` });
    await a.waitFor("ack", 7);

    const byFrame = await connect(roomId, bob.token);
    const [welcome] = await byFrame.waitFor("welcome");
    expect(welcome?.headSeq).toBe(7);
    byFrame.send({ type: "resume", lastSeq: 3 });
    expect((await byFrame.waitFor("message", 4)).map((m) => m.seq)).toEqual([4, 5, 6, 7]);

    const byQuery = await connect(roomId, bob.token, "?lastSeq=5");
    expect((await byQuery.waitFor("message", 2)).map((m) => m.seq)).toEqual([6, 7]);
    byQuery.send({ type: "ping" });
    await byQuery.waitFor("pong");
    expect(byQuery.of("message").map((m) => m.seq)).toEqual([6, 7]);

    const ahead = await connect(roomId, bob.token, "?lastSeq=99");
    expect(await ahead.waitFor("resync_required")).toEqual([{ type: "resync_required", fromSeq: 8 }]);
    for (const c of [a, byFrame, byQuery, ahead]) c.close();
  });

  it("groups presence per user across tabs: one join, a leave only after the last tab", async () => {
    const alice = await signUp("alice");
    const bob = await signUp("bob");
    const roomId = await createRoom(alice.token);
    const watcher = await connect(roomId, alice.token);
    await watcher.waitFor("welcome");
    const tab1 = await connect(roomId, bob.token);
    const tab2 = await connect(roomId, bob.token);
    const [tab2Welcome] = await tab2.waitFor("welcome");
    expect(tab2Welcome?.presence.filter((p) => p.userId === bob.user.id)).toHaveLength(1);
    await watcher.waitFor("presence");
    tab1.close();
    await tab1.waitClose();
    watcher.send({ type: "ping" });
    await watcher.waitFor("pong");
    expect(watcher.of("presence").map((p) => p.event)).toEqual(["join"]);
    tab2.close();
    await watcher.until((f) => f.filter((x) => x.type === "presence").length === 2, "leave");
    expect(watcher.of("presence").map((p) => p.event)).toEqual(["join", "leave"]);
    watcher.close();
  });

  it("keeps identities and presence after the object is evicted and wakes", async () => {
    const { alice, bob, roomId, a, b } = await twoInARoom();
    a.send({ type: "send", clientMsgId: "before", body: "before" });
    await b.waitFor("message");

    await evictDurableObject(stubOf(roomId));

    b.send({ type: "send", clientMsgId: "after", body: "after eviction" });
    const messages = await a.waitFor("message", 2);
    expect(messages[1]).toMatchObject({ seq: 2, userId: bob.user.id, username: bob.user.username, body: "after eviction" });
    const carol = await signUp("carol");
    const third = await connect(roomId, carol.token);
    const [welcome] = await third.waitFor("welcome");
    expect(welcome?.headSeq).toBe(2);
    expect(welcome?.presence.map((p) => p.userId).sort()).toEqual([alice.user.id, bob.user.id, carol.user.id].sort());
    for (const c of [a, b, third]) c.close();
  });

  it("relays typing to others only, and answers ping", async () => {
    const { alice, a, b } = await twoInARoom();
    a.send({ type: "typing" });
    expect(await b.waitFor("typing")).toEqual([{ type: "typing", user: { userId: alice.user.id, username: alice.user.username } }]);
    a.send({ type: "ping" });
    await a.waitFor("pong");
    expect(a.of("typing")).toEqual([]);
    a.close();
    b.close();
  });
});

describe("ChatRoom input limits", () => {
  async function opened() {
    const alice = await signUp();
    const roomId = await createRoom(alice.token);
    const client = await connect(roomId, alice.token);
    await client.waitFor("welcome");
    return client;
  }

  it("answers malformed and unknown frames with bad_request and stays open", async () => {
    const c = await opened();
    c.send("{not json");
    c.send({ type: "fly" });
    c.send({ type: "send", body: "no id" });
    const errors = await c.waitFor("error", 3);
    expect(errors.map((e) => e.code)).toEqual(["bad_request", "bad_request", "bad_request"]);
    c.send({ type: "send", clientMsgId: "ok", body: "still open" });
    await c.waitFor("ack");
    c.close();
  });

  it("refuses a body over 4000 characters with body_too_long and stores nothing", async () => {
    const c = await opened();
    c.send({ type: "send", clientMsgId: "big", body: "x".repeat(4001) });
    expect((await c.waitFor("error"))[0]?.code).toBe("body_too_long");
    c.send({ type: "send", clientMsgId: "fits", body: "x".repeat(4000) });
    expect((await c.waitFor("ack"))[0]?.seq).toBe(1);
    c.close();
  });

  it("closes 1009 on a frame over the size limit", async () => {
    const c = await opened();
    c.send(JSON.stringify({ type: "send", clientMsgId: "huge", body: "€".repeat(6000) }));
    expect((await c.waitClose()).code).toBe(1009);
  });

  it("closes 1003 on a binary frame", async () => {
    const c = await opened();
    c.ws.send(new Uint8Array([1, 2, 3]));
    expect((await c.waitClose()).code).toBe(1003);
  });

  it("answers a burst past the budget with rate_limited, then closes 4429 when it goes on", async () => {
    const c = await opened();
    for (let i = 0; i < 400; i++) c.send({ type: "typing" });
    const closed = await c.waitClose();
    expect(c.of("error").some((e) => e.code === "rate_limited")).toBe(true);
    expect(closed.code).toBe(4429);
  });
});
