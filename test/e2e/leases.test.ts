// Multi-process mode (NODE_ID) without nginx: two `workerd serve` processes
// of the self-hosted build on one PostgreSQL, driven directly, to pin down
// the lease rules one step at a time: the owner serves, the other process
// refuses with Retry-After, takes over once the lease expires and continues
// the seq, the old owner can no longer store anything (fencing), and a
// resend of a message the old owner acknowledged is deduplicated.
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import type { LoginResponse, Message } from "../../protocol/index.ts";
import { createSql } from "../../sql/db.ts";
import { http } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

const SECRET = "lease-test-secret-lease-test-secret-01234";
let a: RunningServer;
let b: RunningServer;

beforeAll(async () => {
  const env = { DATABASE_URL: inject("databaseUrl"), JWT_SECRET: SECRET, LEASE_TTL: "3s" };
  [a, b] = await Promise.all([
    startServer({ ...env, NODE_ID: "lease-a" }, "workerd"),
    startServer({ ...env, NODE_ID: "lease-b" }, "workerd"),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

it("serves a room from one process at a time, fences the old owner, and keeps seq and dedupe across the move", async () => {
  const username = `lease${Date.now().toString(36)}`;
  await http(a.base, "/auth/register", { json: { username, password: "password-123" } });
  const { token } = (await http(a.base, "/auth/login", { json: { username, password: "password-123" } })).body as LoginResponse;
  const room = `${username}-room`;
  expect((await http(a.base, "/rooms", { token, json: { id: room, type: "public" } })).status).toBe(201);
  const publish = (server: RunningServer, clientMsgId: string) =>
    http(server.base, `/rooms/${room}/messages`, { token, json: { clientMsgId, body: `${clientMsgId} body` } });
  const seqOf = (r: { body: unknown }) => (r.body as { message: Message }).message.seq;

  const first = await publish(a, "m1");
  expect(first.status).toBe(201);
  expect(seqOf(first)).toBe(1);

  // B does not own the room while A's lease runs.
  const refused = await publish(b, "m2");
  expect(refused.status).toBe(503);
  expect(refused.body).toMatchObject({ error: { code: "overloaded" } });
  expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

  // A has no sockets, so it does not renew: after the lease time B takes over
  // and continues after what A committed.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const taken = await publish(b, "m2");
  expect(taken.status).toBe(201);
  expect(seqOf(taken)).toBe(2);

  // A still believes it owns the room; its commit is fenced, nothing is stored.
  const fenced = await publish(a, "m3");
  expect(fenced.status).toBe(503);
  // A resend of what A acknowledged is deduplicated by B to its first seq.
  const resent = await publish(b, "m1");
  expect(resent.status).toBe(201);
  expect(seqOf(resent)).toBe(1);
  const third = await publish(b, "m3");
  expect(seqOf(third)).toBe(3);

  const sql = createSql(inject("databaseUrl"));
  try {
    const rows = await sql<{ seq: string; client_msg_id: string }[]>`
      SELECT seq, client_msg_id FROM messages WHERE room_id = ${room} ORDER BY seq`;
    expect(rows.map((r) => [Number(r.seq), r.client_msg_id])).toEqual([
      [1, "m1"],
      [2, "m2"],
      [3, "m3"],
    ]);
    const [lease] = await sql<{ node_id: string }[]>`SELECT node_id FROM room_leases WHERE room_id = ${room}`;
    expect(lease?.node_id).toBe("lease-b");
  } finally {
    await sql.end({ timeout: 2 });
  }
});
