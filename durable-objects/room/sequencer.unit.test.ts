import { describe, expect, it } from "vitest";
import type { Message, Room } from "../../protocol/index.ts";
import { nodeSql } from "../../test/support/node-sqlite.ts";
import { Sequencer, type SequencerLimits } from "./sequencer.ts";
import { RoomStore } from "./storage.ts";

// The sequencer, the outbox and the log as plain objects on Node's SQLite
// (test/support/node-sqlite.ts), with a clock the test moves.
const room: Room = { id: "r1", name: "r1", type: "public", createdAt: "2026-01-01T00:00:00.000Z" };
const alice = { id: "u1", username: "alice" };
const limits: SequencerLimits = { dedupeWindowMs: 60_000, outboxMaxPending: 5, logRetention: { count: 2, ageMs: 86_400_000 } };

function setup(sql = nodeSql()) {
  const clock = { now: 1_000_000 };
  const store = new RoomStore(sql);
  store.saveRoom(room);
  const sequencer = new Sequencer(store, limits, () => clock.now);
  return { sql, clock, store, sequencer };
}

function stored(result: ReturnType<Sequencer["accept"]>): Message {
  if (result.kind !== "stored") throw new Error(`expected stored, got ${result.kind}`);
  return result.message;
}

async function copyAll(store: RoomStore): Promise<Message[]> {
  const copied: Message[] = [];
  const result = await store.outbox.flush(async (batch) => copied.push(...batch), { batchSize: 100, timeoutMs: 1000 });
  expect(result.ok).toBe(true);
  return copied;
}

describe("Sequencer", () => {
  it("hands out gapless seqs and stores each message in the log and the outbox", () => {
    const { store, sequencer } = setup();
    const seqs = ["a", "b", "c"].map((id) => stored(sequencer.accept(alice, id, `body ${id}`)).seq);
    expect(seqs).toEqual([1, 2, 3]);
    expect(sequencer.head).toBe(3);
    expect(store.outbox.depth).toBe(3);
    expect(store.log.range(0, 10, 10).map((m) => [m.seq, m.roomId, m.body])).toEqual([
      [1, "r1", "body a"],
      [2, "r1", "body b"],
      [3, "r1", "body c"],
    ]);
  });

  it("answers a resend inside the dedupe window with the first seq, and stores it anew after", () => {
    const { clock, sequencer } = setup();
    stored(sequencer.accept(alice, "same", "x"));
    expect(sequencer.accept(alice, "same", "x")).toEqual({ kind: "duplicate", seq: 1 });
    // Another user's identical client id is another message.
    expect(stored(sequencer.accept({ id: "u2", username: "bob" }, "same", "x")).seq).toBe(2);
    clock.now += limits.dedupeWindowMs + 1;
    expect(stored(sequencer.accept(alice, "same", "x")).seq).toBe(3);
  });

  it("refuses new messages while the outbox is full, and takes them again once it was copied", async () => {
    const { store, sequencer } = setup();
    for (let i = 0; i < limits.outboxMaxPending; i++) stored(sequencer.accept(alice, `m${i}`, "x"));
    expect(sequencer.accept(alice, "one-more", "x")).toEqual({ kind: "overloaded" });
    expect((await copyAll(store)).map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(store.outbox.depth).toBe(0);
    expect(stored(sequencer.accept(alice, "one-more", "x")).seq).toBe(6);
  });

  it("leaves no gap and no stale state when the append's transaction fails", () => {
    const { sql, store, sequencer } = setup();
    stored(sequencer.accept(alice, "a", "x"));
    // A row already holding the next seq makes the insert fail inside the transaction.
    sql.exec(
      "INSERT INTO messages (seq, id, user_id, username, body, client_msg_id, created_at) VALUES (2, 'x', 'u9', 'z', 'z', 'z', 'z')",
    );
    expect(() => sequencer.accept(alice, "b", "x")).toThrow();
    expect(sequencer.head).toBe(1);
    expect(store.outbox.depth).toBe(1);
    expect(store.sent.find(alice.id, "b", 0)).toBeNull();
    sql.exec("DELETE FROM messages WHERE seq = 2");
    expect(stored(sequencer.accept(alice, "b", "x")).seq).toBe(2);
  });

  it("keeps its head across a restart, even when retention emptied the log", async () => {
    const { sql, store, sequencer } = setup();
    for (const id of ["a", "b", "c", "d"]) stored(sequencer.accept(alice, id, "x"));
    await copyAll(store);
    sequencer.prune();
    expect(store.log.range(0, 100, 100).map((m) => m.seq)).toEqual([3, 4]);
    sql.exec("DELETE FROM messages");
    const again = setup(sql);
    expect(again.sequencer.head).toBe(4);
    expect(stored(again.sequencer.accept(alice, "e", "x")).seq).toBe(5);
  });

  it("never prunes a message PostgreSQL does not hold yet", async () => {
    const { store, sequencer } = setup();
    for (const id of ["a", "b", "c", "d"]) stored(sequencer.accept(alice, id, "x"));
    expect(sequencer.prune()).toBe(0);
    expect(store.log.range(0, 100, 100)).toHaveLength(4);
    await copyAll(store);
    expect(sequencer.prune()).toBe(2);
  });

  it("continues after PostgreSQL's head when its own storage is new", () => {
    const { sequencer } = setup();
    expect(sequencer.headChecked).toBe(false);
    sequencer.adoptArchivedHead(41);
    expect(sequencer.headChecked).toBe(true);
    expect(stored(sequencer.accept(alice, "a", "x")).seq).toBe(42);
  });

  it("on a lease claim, drops what was never committed and takes PostgreSQL's newer messages", () => {
    const { store, sequencer } = setup();
    stored(sequencer.accept(alice, "a", "x"));
    sequencer.markCommitted(1);
    stored(sequencer.accept(alice, "b", "never committed"));
    const fromPg: Message = {
      ...stored(setup().sequencer.accept({ id: "u3", username: "carol" }, "c", "from pg")),
      seq: 2,
      roomId: room.id,
    };
    sequencer.adoptArchive([fromPg], 2);
    expect(store.log.range(0, 100, 100).map((m) => [m.seq, m.body])).toEqual([
      [1, "x"],
      [2, "from pg"],
    ]);
    expect(store.outbox.depth).toBe(0);
    expect(sequencer.committed).toBe(2);
    // Its client id dedupes a resend that reaches this process now.
    expect(sequencer.accept({ id: "u3", username: "carol" }, "c", "from pg")).toEqual({ kind: "duplicate", seq: 2 });
    expect(stored(sequencer.accept(alice, "b", "again")).seq).toBe(3);
  });
});

describe("Outbox", () => {
  it("backs off after a failed copy, keeps the messages, and copies them in order later", async () => {
    const { store, sequencer, clock } = setup();
    stored(sequencer.accept(alice, "a", "x"));
    stored(sequencer.accept(alice, "b", "y"));
    const failed = await store.outbox.flush(() => Promise.reject(new Error("down")), {
      batchSize: 10,
      timeoutMs: 1000,
      now: () => clock.now,
    });
    expect(failed).toMatchObject({ ok: false, failures: 1, error: "down" });
    expect(store.outbox.depth).toBe(2);
    expect(store.outbox.backingOff(clock.now)).toBe(true);
    expect(store.outbox.due(clock.now)).toBe(false);
    const due = store.outbox.dueAt(clock.now);
    expect(due).toBeGreaterThan(clock.now);
    expect((await copyAll(store)).map((m) => m.body)).toEqual(["x", "y"]);
    expect(store.outbox.dueAt(clock.now)).toBeNull();
  });

  it("copies a restart's leftovers once more (the insert skips what PostgreSQL has)", async () => {
    const { sql, store, sequencer } = setup();
    stored(sequencer.accept(alice, "a", "x"));
    await copyAll(store);
    // The copied row is deleted lazily, with the next append; a restart before it copies it again.
    const again = setup(sql);
    expect(again.store.outbox.depth).toBe(1);
    expect((await copyAll(again.store)).map((m) => m.seq)).toEqual([1]);
    expect(again.store.outbox.depth).toBe(0);
    void store;
  });
});
