// How the server uses PostgreSQL under many rooms, on the server as npm start
// runs it and a real PostgreSQL of this file's own:
// - rooms and Worker requests share the process's DATABASE_MAX_CONNECTIONS
//   (before, every busy room held a connection of its own, and 300 rooms
//   exhausted a default max_connections of 100);
// - an upgrade to a room the process already knows needs no query (a lock on
//   `rooms` holds back only the lookups that do reach PostgreSQL).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { createSql } from "../../sql/db.ts";
import { canLockDatabase, lockableDatabase } from "../faults/databases.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

const SLOTS = 3;
const ROOMS = 20;
const canLock = canLockDatabase();
if (!canLock) console.warn("database-load: skipped: needs TEST_DATABASE_URL or PostgreSQL's server binaries");

let server: RunningServer | undefined;
let database: { url: string; drop(): Promise<void> } | null = null;
let token = "";

beforeAll(async () => {
  if (!canLock) return;
  database = await lockableDatabase("load");
  if (!database) return;
  server = await startServer({ DATABASE_URL: database.url, DATABASE_MAX_CONNECTIONS: String(SLOTS), RATE_LIMIT_BURST: "100" });
  await http(server.base, "/auth/register", { json: { username: "load-user", password: "password-123" } });
  token = ((await http(server.base, "/auth/login", { json: { username: "load-user", password: "password-123" } })).body as LoginResponse)
    .token;
  for (let r = 0; r < ROOMS; r++)
    await http(server.base, "/rooms", { token, json: { id: `load-${r}`, type: r === 0 ? "private" : "public" } });
  await http(server.base, "/rooms", { token, json: { id: "never-opened", type: "public" } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await database?.drop();
});

function open(room: string): Promise<Peer> {
  return Peer.open(`${server!.base.replace("http", "ws")}/rooms/${room}/ws`, { Authorization: `Bearer ${token}` });
}

describe.skipIf(!canLock)("PostgreSQL under many rooms", () => {
  it(`keeps rooms and requests within DATABASE_MAX_CONNECTIONS (${SLOTS}) while ${ROOMS} rooms copy their outboxes at once`, async () => {
    const pg = createSql(database!.url);
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await pg<{ n: string }[]>`
          SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`;
        peak = Math.max(peak, Number(row?.n));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const peers = await Promise.all(Array.from({ length: ROOMS }, (_, r) => open(`load-${r}`)));
      await Promise.all(peers.map((p) => p.waitFor("welcome")));
      for (const [r, peer] of peers.entries())
        for (let i = 1; i <= 5; i++) peer.send({ type: "send", clientMsgId: `m${r}-${i}`, body: `room ${r} message ${i}` });
      await Promise.all(peers.map((p) => p.waitFor("ack", 5)));
      await waitUntil(
        async () => {
          const [row] = await pg<{ n: string }[]>`SELECT count(*) AS n FROM messages WHERE room_id LIKE 'load-%'`;
          return Number(row?.n) === ROOMS * 5;
        },
        "every message archived",
        30_000,
      );
      for (const p of peers) p.close();
    } finally {
      sampling = false;
      await sampler;
      await pg.end({ timeout: 2 });
    }
    console.log(`database-load: at most ${peak} server connections to PostgreSQL (cap ${SLOTS}) for ${ROOMS} rooms`);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(SLOTS);
  }, 90_000);

  it("opens a socket to a room it already knows while `rooms` is locked; a room it never looked up waits for the lock", async () => {
    const pg = createSql(database!.url);
    let unknown: Promise<Peer> | undefined;
    try {
      await pg.begin(async (tx) => {
        await tx`LOCK TABLE rooms IN ACCESS EXCLUSIVE MODE`;
        // Known from the test above: a public room and a private one (its owner's membership).
        for (const room of ["load-1", "load-0"]) {
          const peer = await open(room);
          await peer.waitFor("welcome", 1, 5000);
          peer.close();
        }
        let settled = false;
        unknown = open("never-opened").finally(() => (settled = true));
        await new Promise((r) => setTimeout(r, 1500));
        expect(settled).toBe(false);
      });
    } finally {
      await pg.end({ timeout: 2 });
    }
    const late = await unknown!;
    await late.waitFor("welcome");
    late.close();
  }, 60_000);
});
