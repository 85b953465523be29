// Several processes (issue 4): two `workerd serve` processes of the
// self-hosted build share one PostgreSQL behind Debian's nginx with the site
// file we ship (deploy/nginx/roomcast.conf, over TLS). Every socket of a room
// must land on the same process, and rooms on both processes must work.
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, Peer } from "../support/node-client.ts";
import { hasNginx, roomFiles, startNginx, type RunningNginx } from "../support/nginx.ts";
import { allOrStop, startServer, type RunningServer } from "../support/server.ts";

// The test's certificate is self-signed; this file's process only.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

const SECRET = "nginx-test-secret-nginx-test-secret-0123";
const ROOMS = 12;
let servers: RunningServer[] = [];
let nginx: RunningNginx;

beforeAll(async () => {
  if (!hasNginx) return;
  const env = { DATABASE_URL: inject("databaseUrl"), JWT_SECRET: SECRET };
  servers = await allOrStop<[RunningServer, RunningServer]>([startServer(env, "workerd"), startServer(env, "workerd")]);
  nginx = await startNginx(servers.map((s) => Number(new URL(s.base).port)));
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(servers.map((s) => s.stop()));
});

it.skipIf(!hasNginx)("puts every socket of a room on one process, and rooms on both processes work", async () => {
  const prefix = `ng${Date.now().toString(36)}`;
  const tokens: string[] = [];
  for (const name of ["ann", "ben"]) {
    const username = `${prefix}${name}`;
    expect((await http(nginx.base, "/auth/register", { json: { username, password: "password-123" } })).status).toBe(201);
    tokens.push(((await http(nginx.base, "/auth/login", { json: { username, password: "password-123" } })).body as LoginResponse).token);
  }
  const [ann = "", ben = ""] = tokens;
  const ws = nginx.base.replace("https", "wss");
  for (let r = 0; r < ROOMS; r++) {
    const id = `${prefix}-room-${r}`;
    expect((await http(nginx.base, "/rooms", { token: ann, json: { id, type: "public" } })).status).toBe(201);
    // Three sockets per room, opened one after another through nginx.
    const peers = [
      await Peer.open(`${ws}/rooms/${id}/ws`, { Authorization: `Bearer ${ann}` }),
      await Peer.open(`${ws}/rooms/${id}/ws`, { Authorization: `Bearer ${ben}` }),
      await Peer.open(`${ws}/rooms/${id}/ws`, { Authorization: `Bearer ${ben}` }),
    ];
    await Promise.all(peers.map((p) => p.waitFor("welcome")));
    peers[0]?.send({ type: "send", clientMsgId: "m1", body: `hello ${id}` });
    peers[1]?.send({ type: "send", clientMsgId: "m2", body: `hi ${id}` });
    // All three saw both messages with the same seqs: one room, one process.
    const seen = await Promise.all(peers.map((p) => p.waitFor("message", 2)));
    for (const messages of seen) expect(messages.map((m) => [m.seq, m.body])).toEqual(seen[0]?.map((m) => [m.seq, m.body]));
    expect(seen[0]?.map((m) => m.seq)).toEqual([1, 2]);
    // REST history reaches the same room object through nginx.
    const history = await http(nginx.base, `/rooms/${id}/messages?after=0`, { token: ben });
    expect((history.body as { messages: unknown[] }).messages).toHaveLength(2);
    for (const p of peers) p.close();
  }

  const files = servers.map((s) => roomFiles(s.dataDir));
  // Each room object exists on exactly one process...
  expect(files[0]?.filter((f) => files[1]?.includes(f))).toEqual([]);
  expect((files[0]?.length ?? 0) + (files[1]?.length ?? 0)).toBe(ROOMS);
  // ...and both processes hold some (12 rooms on two processes by a hash).
  expect(files[0]?.length).toBeGreaterThan(0);
  expect(files[1]?.length).toBeGreaterThan(0);
});
