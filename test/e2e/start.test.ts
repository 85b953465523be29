// End to end: the service started the way `npm start` starts it (embedded
// PGlite, wrangler dev, workerd), driven over real HTTP and WebSockets; and
// the same on the single compiled binary of `npm run build:binary`.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoginResponse, Message, RoomResponse } from "../../protocol/index.ts";
import { createSql } from "../../sql/db.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { defaultRuntime, startServer, type RunningServer } from "../support/server.ts";

describe.each([defaultRuntime, "binary" as const])("npm start on %s, as a new user meets it", (runtime) => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({}, runtime);
  });

  afterAll(async () => {
    await server?.stop();
  });

  async function account(name: string): Promise<LoginResponse> {
    const username = `${name}${Date.now().toString(36)}`;
    const registered = await http(server.base, "/auth/register", { json: { username, password: "password-123" } });
    expect(registered.status).toBe(201);
    const login = await http(server.base, "/auth/login", { json: { username, password: "password-123" } });
    expect(login.status).toBe(200);
    return login.body as LoginResponse;
  }

  it("registers, logs in, creates a room, and two sockets chat in order; messages reach PostgreSQL", async () => {
    expect((await http(server.base, "/readyz")).status).toBe(200);
    const alice = await account("alice");
    const bob = await account("bob");
    expect((await http(server.base, "/auth/me", { token: alice.token })).body).toEqual({ user: alice.user });

    const created = await http(server.base, "/rooms", { token: alice.token, json: { id: "e2e-lobby", type: "public" } });
    expect(created.status).toBe(201);
    const room = (created.body as RoomResponse).room;

    const ws = server.base.replace("http", "ws");
    const a = await Peer.open(`${ws}/rooms/${room.id}/ws`, { Authorization: `Bearer ${alice.token}` });
    const { ticket } = (await http(server.base, "/auth/ticket", { method: "POST", token: bob.token })).body as { ticket: string };
    // npm start on a non-default PORT allows that port's own origins.
    const b = await Peer.open(`${ws}/rooms/${room.id}/ws?ticket=${ticket}`, { Origin: server.base });
    await a.waitFor("welcome");
    await b.waitFor("welcome");
    await a.waitFor("presence");

    for (let i = 1; i <= 10; i++) (i % 2 ? a : b).send({ type: "send", clientMsgId: `e2e-${i}`, body: `hello ${i}` });
    a.send({ type: "send", clientMsgId: "e2e-1", body: "again" });
    const atA = await a.waitFor("message", 10);
    const atB = await b.waitFor("message", 10);
    expect(atA.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(atB).toEqual(atA);
    await a.waitFor("ack", 6);
    expect(a.of("ack").at(-1)).toEqual({ type: "ack", clientMsgId: "e2e-1", seq: atA.find((m) => m.clientMsgId === "e2e-1")?.seq });

    const history = await http(server.base, `/rooms/${room.id}/messages?after=5&limit=3`, { token: bob.token });
    expect((history.body as { messages: Message[] }).messages.map((m) => m.seq)).toEqual([6, 7, 8]);

    // The embedded database is a real PostgreSQL endpoint: read the archive from outside.
    const url = /embedded PostgreSQL \(PGlite\) on (\S+),/.exec(server.output())?.[1];
    expect(url).toBeTruthy();
    const pg = createSql(url ?? "");
    try {
      await waitUntil(
        async () => {
          const [row] = await pg<{ n: string }[]>`SELECT count(*) AS n FROM messages WHERE room_id = ${room.id}`;
          return Number(row?.n) === 10;
        },
        "the outbox to reach PostgreSQL",
        20_000,
      );
    } finally {
      await pg.end({ timeout: 2 });
    }
    a.close();
    b.close();
  });

  it("refuses what the contract refuses, with its codes", async () => {
    const alice = await account("carol");
    const ws = server.base.replace("http", "ws");
    expect((await http(server.base, "/rooms/nope/ws", { token: alice.token })).status).toBe(426);
    await expect(Peer.open(`${ws}/rooms/nope/ws`)).rejects.toThrow(/401/);
    await expect(Peer.open(`${ws}/rooms/nope/ws`, { Authorization: `Bearer ${alice.token}` })).rejects.toThrow(/404/);
    const bad = await http(server.base, "/auth/login", { json: { username: "x", password: "y" } });
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ error: { code: "invalid_credentials" } });
  });
});
