// Slow consumers (4001) and a cold room that cannot confirm its sequence, on
// the server as npm start runs it, with real sockets and a real PostgreSQL.
//
// A stalled reader is a `ws` client that stops reading (`ws.pause()`) while
// it still writes: the picture of a phone whose downlink has stalled. workerd
// queues what it cannot write outside `bufferedAmount`, so the room judges a
// socket by its read receipts (`ping` with `lastSeq`) and, during a resume,
// by the frames it holds for it.
//
// PostgreSQL is made slow for real: a transaction of the test holds an
// ACCESS EXCLUSIVE lock on `messages`, as a long migration would. The
// Worker's lookups read `users`, `rooms` and `room_members` and still pass;
// the room's head check and archive reads wait on the lock.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { RoomClient, type SocketLike } from "../../client/room-client.ts";
import type { LoginResponse, Message } from "../../protocol/index.ts";
import { createSql } from "../../sql/db.ts";
import { canLockDatabase, lockableDatabase } from "../faults/databases.ts";
import { http, Peer, refusalOf, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

const LAG = 50;
const canLock = canLockDatabase();
if (!canLock)
  console.warn(
    "slow-consumers: skipped: needs TEST_DATABASE_URL or PostgreSQL's server binaries (a lock cannot be held against the embedded PGlite)",
  );

let server: RunningServer | undefined;
let database: { url: string; drop(): Promise<void> } | null = null;
let databaseUrl: string | undefined;
let alice = "";
let bob = "";

beforeAll(async () => {
  if (!canLock) return;
  database = await lockableDatabase("slow");
  databaseUrl = database?.url;
  if (!databaseUrl) return;
  server = await startServer({
    DATABASE_URL: databaseUrl,
    SLOW_CONSUMER_LAG: String(LAG),
    RATE_LIMIT_BURST: "200",
    ROOM_LOG_RETENTION: "5,7d",
    DATABASE_TIMEOUT: "4s",
  });
  const login = async (username: string) => {
    await http(server!.base, "/auth/register", { json: { username, password: "password-123" } });
    return ((await http(server!.base, "/auth/login", { json: { username, password: "password-123" } })).body as LoginResponse).token;
  };
  alice = await login("slow-alice");
  bob = await login("slow-bob");
  for (const id of ["receipts", "held", "cold", "heartbeat"])
    await http(server.base, "/rooms", { token: bob, json: { id, type: "public" } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

function open(room: string, token: string, lastSeq?: number): Promise<Peer> {
  const query = lastSeq === undefined ? "" : `?lastSeq=${lastSeq}`;
  return Peer.open(`${server!.base.replace("http", "ws")}/rooms/${room}/ws${query}`, { Authorization: `Bearer ${token}` });
}

async function sendMany(peer: Peer, prefix: string, n: number): Promise<void> {
  const before = peer.of("ack").length;
  for (let i = 1; i <= n; i++) peer.send({ type: "send", clientMsgId: `${prefix}-${i}`, body: `${prefix} ${i}` });
  await peer.waitFor("ack", before + n, 15_000);
}

function seqs(messages: Message[]): number[] {
  return messages.map((m) => m.seq);
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.skipIf(!canLock)("slow consumers and a slow PostgreSQL", () => {
  it("closes 4001 a reader whose receipt is more than SLOW_CONSUMER_LAG behind; a reader within it gets pong; the closed one resumes without a gap", async () => {
    const stalled = await open("receipts", alice);
    const sender = await open("receipts", bob);
    const [welcome] = await stalled.waitFor("welcome");
    await sender.waitFor("welcome");
    const head = welcome!.headSeq;
    stalled.ws.pause();

    await sendMany(sender, "r", LAG + 10);
    // The sender has read everything: its receipt is exactly at the head.
    sender.send({ type: "ping", lastSeq: head + LAG + 10 });
    await sender.waitFor("pong");
    // A receipt exactly LAG behind is still within the budget.
    sender.send({ type: "ping", lastSeq: head + 10 });
    await sender.waitFor("pong", 2);

    // The stalled reader still writes: its receipt says it read nothing.
    stalled.send({ type: "ping", lastSeq: head });
    stalled.ws.resume();
    await waitUntil(() => stalled.closed !== null, "the stalled reader to be closed", 30_000);
    expect(stalled.closed?.code).toBe(4001);
    expect(stalled.of("pong")).toEqual([]);
    expect(sender.closed).toBeNull();

    // Reconnect and resume from what it read: everything, once, in order.
    const read = seqs(stalled.of("message")).at(-1) ?? head;
    const again = await open("receipts", alice, read);
    await waitUntil(() => (seqs(again.of("message")).at(-1) ?? read) >= head + LAG + 10, "the resume", 15_000);
    expect([...seqs(stalled.of("message")), ...seqs(again.of("message"))]).toEqual(range(head + 1, head + LAG + 10));
    again.close();
    sender.close();
  }, 60_000);

  it("closes 4001 a socket whose resume waits on PostgreSQL once more than SLOW_CONSUMER_LAG frames are held for it; nothing acked is lost", async () => {
    const sender = await open("held", bob);
    await sender.waitFor("welcome");
    await sendMany(sender, "old", 20);
    // Copied to PostgreSQL and pruned to the newest 5 in the room's log.
    const pg = createSql(databaseUrl!);
    try {
      await waitUntil(
        async () => {
          const [row] = await pg<{ n: string }[]>`SELECT count(*) AS n FROM messages WHERE room_id = 'held'`;
          return Number(row?.n) === 20;
        },
        "20 messages archived",
        20_000,
      );
      await pg.begin(async (tx) => {
        await tx`LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`;
        // Seqs 1..15 are only in PostgreSQL: the resume waits on the lock.
        const resumer = await open("held", alice, 0);
        await resumer.waitFor("welcome");
        await sendMany(sender, "new", LAG + 5);
        await waitUntil(() => resumer.closed !== null, "the held socket to be closed", 30_000);
        expect(resumer.closed?.code).toBe(4001);
        expect(resumer.of("message")).toEqual([]);
      });
    } finally {
      await pg.end({ timeout: 2 });
    }
    const again = await open("held", alice, 0);
    await again.waitFor("message", 20 + LAG + 5, 20_000);
    expect(seqs(again.of("message"))).toEqual(range(1, 20 + LAG + 5));
    expect(again.of("resync_required")).toEqual([]);
    again.close();
    sender.close();
  }, 90_000);

  it("the typed client's heartbeat carries read receipts: stalled, it is closed 4001, finds no pong, reconnects and resumes", async () => {
    const sockets: WebSocket[] = [];
    const client = new RoomClient({
      url: `${server!.base.replace("http", "ws")}/rooms/heartbeat/ws`,
      open: (url) => {
        const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${alice}` } });
        sockets.push(ws);
        // ws's overloaded addEventListener is wider than SocketLike's (as in test/faults/workload.ts).
        return ws as unknown as SocketLike;
      },
      heartbeatMs: 200,
      pongTimeoutMs: 1000,
      // The check below reads every message received.
      record: true,
    });
    await client.start();
    await waitUntil(() => client.connected, "the client to be welcomed");
    const head = client.lastSeq;
    let firstClose = 0;
    sockets[0]!.once("close", (code: number) => (firstClose = code));
    sockets[0]!.pause();
    const sender = await open("heartbeat", bob);
    await sender.waitFor("welcome");
    await sendMany(sender, "h", LAG + 10);
    // Its receipts stay at `head`: the room closes it; the paused socket
    // cannot see that, but it sees no pong either and gives up on it.
    await waitUntil(() => client.connects >= 2 && client.lastSeq === head + LAG + 10, "the client to reconnect and catch up", 20_000);
    expect([...client.received.keys()].sort((a, b) => a - b)).toEqual(range(head + 1, head + LAG + 10));
    // Reading again, the first socket finds the room's close: 4001, not the
    // echo of the client's own 4000.
    sockets[0]!.resume();
    await waitUntil(() => firstClose !== 0, "the first socket to close", 20_000);
    expect(firstClose).toBe(4001);
    client.stop();
    sender.close();
  }, 60_000);

  it("a cold room that cannot read its head from PostgreSQL refuses (503 before the upgrade, 503 on REST) and never guesses a seq", async () => {
    const pg = createSql(databaseUrl!);
    try {
      // PostgreSQL holds seqs 1..3 that this node's SQLite never saw (another
      // node served the room, or this disk was lost).
      await pg`
        INSERT INTO messages (room_id, seq, id, user_id, username, body, client_msg_id, created_at)
        SELECT 'cold', n, gen_random_uuid(), u.id, u.username, 'earlier ' || n, 'earlier-' || n, now()
        FROM users u, generate_series(1, 3) n WHERE u.username = 'slow-bob'`;
      await pg.begin(async (tx) => {
        await tx`LOCK TABLE messages IN ACCESS EXCLUSIVE MODE`;
        const { status, headers, body } = await refusalOf(open("cold", alice));
        expect(status).toBe(503);
        expect(headers["retry-after"]).toBeTruthy();
        expect(JSON.parse(body)).toMatchObject({ error: { code: "database_unavailable" } });
        const post = await http(server!.base, "/rooms/cold/messages", { token: alice, json: { clientMsgId: "c1", body: "hi" } });
        expect(post.status).toBe(503);
        expect(post.body).toMatchObject({ error: { code: "database_unavailable" } });
      });
    } finally {
      await pg.end({ timeout: 2 });
    }
    // The lock is gone: the room confirms its head and continues after it.
    // A client whose head check timed out is not used again (it never saw
    // another reply, measured): the first request after the lock succeeds.
    const post = await http(server!.base, "/rooms/cold/messages", { token: alice, json: { clientMsgId: "c1", body: "hi" } });
    expect(post.status).toBe(201);
    expect(post.body).toMatchObject({ message: { seq: 4 } });
  }, 60_000);
});
