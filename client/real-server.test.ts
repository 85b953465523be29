// The client against a real server, started as `npm start` starts it: two
// clients made by connectRoom over Node 22's global WebSocket (tickets, as a
// browser), accounts and the room through RoomcastApi; then the server is
// stopped and started again on the same state, and both clients resume with
// no gap and no duplicate, and a message sent while it was down arrives once.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, inject, it } from "vitest";
import type { Message } from "../protocol/model.ts";
import { waitUntil } from "../test/support/node-client.ts";
import { startServer, type RunningServer } from "../test/support/server.ts";
import { RoomcastApi } from "./api.ts";
import { connectRoom } from "./connect.ts";
import type { ConnectionState, RoomClient } from "./room-client.ts";

const servers: RunningServer[] = [];
const clients: RoomClient[] = [];

afterAll(async () => {
  for (const client of clients) client.stop();
  for (const server of servers) await server.stop();
});

/** What one client saw: every message in order of delivery, and its states. */
function watch(server: string, room: string, token: string) {
  const delivered: Message[] = [];
  const states: ConnectionState[] = [];
  const client = connectRoom({
    server,
    room,
    token: () => token,
    onMessage: (m) => delivered.push(m),
    onState: (s) => states.push(s),
    // Short: the test waits for the restart, not for the client's patience.
    backoff: { minMs: 100, maxMs: 1000 },
  });
  clients.push(client);
  return { client, delivered, states };
}

it("two clients chat through a server restart: acked sends resolve with their seq, both streams stay whole, a send made while down arrives once", async () => {
  const env = {
    // The run's shared database, so that the restarted server finds the accounts.
    DATABASE_URL: inject("databaseUrl"),
    JWT_SECRET: "client-tests-secret-client-tests-secret",
    ROOMCAST_DATA_DIR: await mkdtemp(join(tmpdir(), "roomcast-client-")),
  };
  let server = await startServer(env);
  servers.push(server);
  const port = new URL(server.base).port;
  const api = new RoomcastApi({ server: server.base });
  const prefix = `cl${Date.now().toString(36)}`;
  const tokens: string[] = [];
  for (const name of ["a", "b"]) {
    await api.register(`${prefix}-${name}`, "password-123");
    tokens.push((await api.login(`${prefix}-${name}`, "password-123")).token);
  }
  const [aliceToken = "", bobToken = ""] = tokens;
  const room = `${prefix}-room`;
  await new RoomcastApi({ server: server.base, token: () => aliceToken }).createRoom({ id: room, type: "public" });

  const alice = watch(server.base, room, aliceToken);
  const bob = watch(server.base, room, bobToken);
  await Promise.all([alice.client.start(), bob.client.start()]);
  await waitUntil(() => alice.client.state === "open" && bob.client.state === "open", "both clients to be welcomed", 15_000);
  await waitUntil(() => alice.client.presence.size === 2, "alice to see bob", 5000);

  expect(await alice.client.send("one")).toBe(1);
  expect(await bob.client.send("two")).toBe(2);
  await waitUntil(() => alice.delivered.length === 2 && bob.delivered.length === 2, "both to receive both", 5000);

  await server.stop();
  await waitUntil(() => alice.client.state === "reconnecting", "alice to notice", 15_000);
  const whileDown = alice.client.send("three, sent while the server was down");
  server = await startServer({ ...env, PORT: port });
  servers.push(server);
  expect(await whileDown).toBe(3);
  expect(await bob.client.send("four")).toBe(4);
  await waitUntil(() => alice.delivered.length === 4 && bob.delivered.length === 4, "both to receive all four", 15_000);

  for (const seen of [alice, bob]) {
    expect(seen.delivered.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(seen.delivered.map((m) => m.body)).toEqual(["one", "two", "three, sent while the server was down", "four"]);
    expect(seen.states).toEqual(["connecting", "open", "reconnecting", "open"]);
  }
  // Each delivered once: nothing more arrives after a pause.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(alice.delivered).toHaveLength(4);
  expect(bob.delivered).toHaveLength(4);
}, 60_000);
