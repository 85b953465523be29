// A real PostgreSQL outage: the database the server uses is stopped while
// clients chat, then started again on the same port and data directory.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../scripts/embedded-pg.ts";
import { createSql } from "../../sql/db.ts";
import { loadMigrations, migrate } from "../../sql/migrate.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { freePort, startServer, type RunningServer } from "../support/server.ts";

let server: RunningServer | undefined;
let database: EmbeddedPostgres | undefined;

afterAll(async () => {
  await server?.stop();
  await database?.stop();
});

async function countArchived(url: string, roomId: string): Promise<number> {
  const pg = createSql(url);
  try {
    const [row] = await pg<{ n: string }[]>`SELECT count(*) AS n FROM messages WHERE room_id = ${roomId}`;
    return Number(row?.n);
  } finally {
    await pg.end({ timeout: 2 });
  }
}

describe("PostgreSQL outage", () => {
  it("keeps acking sends from the room's storage, answers 503, and drains the outbox afterwards", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "roomcast-outage-"));
    const port = await freePort();
    database = await startEmbeddedPostgres({ dataDir, port });
    const migrator = createSql(database.url);
    await migrate(migrator, await loadMigrations());
    await migrator.end({ timeout: 2 });
    // A burst above the default 20 so that the test can send 25 frames at once.
    // The outbox holds at most 20, so the outage fills it.
    server = await startServer({ DATABASE_URL: database.url, RATE_LIMIT_BURST: "100", OUTBOX_MAX_PENDING: "20" });
    const base = server.base;

    await http(base, "/auth/register", { json: { username: "outage-user", password: "password-123" } });
    const login = (await http(base, "/auth/login", { json: { username: "outage-user", password: "password-123" } })).body as LoginResponse;
    await http(base, "/rooms", { token: login.token, json: { id: "outage", type: "public" } });
    const peer = await Peer.open(`${base.replace("http", "ws")}/rooms/outage/ws`, { Authorization: `Bearer ${login.token}` });
    await peer.waitFor("welcome");
    for (let i = 1; i <= 5; i++) peer.send({ type: "send", clientMsgId: `before-${i}`, body: `before ${i}` });
    await peer.waitFor("ack", 5);
    await waitUntil(async () => (await countArchived(database!.url, "outage")) === 5, "first messages archived", 20_000);

    await database.stop();
    database = undefined;

    for (let i = 1; i <= 20; i++) peer.send({ type: "send", clientMsgId: `during-${i}`, body: `during ${i}` });
    const acks = await peer.waitFor("ack", 25, 15_000);
    expect(acks.map((a) => a.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    // A full outbox refuses, visibly and without an ack, rather than grow without bound.
    for (let i = 1; i <= 3; i++) peer.send({ type: "send", clientMsgId: `over-${i}`, body: `over ${i}` });
    const refusals = await peer.waitFor("error", 3);
    expect(refusals.map((e) => e.code)).toEqual(["overloaded", "overloaded", "overloaded"]);
    expect(peer.of("ack")).toHaveLength(25);

    const ready = await http(base, "/readyz");
    expect(ready.status).toBe(503);
    expect(ready.headers.get("Retry-After")).toBeTruthy();
    const rooms = await http(base, "/rooms", { token: login.token });
    expect(rooms.status).toBe(503);
    expect(rooms.body).toMatchObject({ error: { code: "database_unavailable" } });

    // Let a few copy attempts fail, then bring the database back.
    await new Promise((r) => setTimeout(r, 2000));
    database = await startEmbeddedPostgres({ dataDir, port });
    await waitUntil(async () => (await countArchived(database!.url, "outage")) === 25, "the outbox to drain", 60_000);
    expect((await http(base, "/readyz")).status).toBe(200);
    for (let i = 1; i <= 3; i++) peer.send({ type: "send", clientMsgId: `over-${i}`, body: `over ${i}` });
    expect((await peer.waitFor("ack", 28)).slice(25).map((a) => a.seq)).toEqual([26, 27, 28]);
    peer.close();
  });
});
