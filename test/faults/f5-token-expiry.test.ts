// F5: the tokens of many sockets expire at once. Sockets that renew with an
// `auth` frame lose nothing; the others are closed 4401 and receive nothing
// after exp + grace.
import { SignJWT } from "jose";
import { expect, it } from "vitest";
import { RoomClient } from "../../client/room-client.ts";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";
import { check } from "./checker.ts";
import { FAULT_SECRET, teardownAfterAll } from "./lifecycle.ts";
import { sharedDatabase } from "./databases.ts";
import { bearerSocket, connectAll, loginToken, settle, startLoad, stopAll, type FaultClient, type Workload } from "./workload.ts";

const GRACE_MS = 2000;
const cleanup = teardownAfterAll();

async function token(userId: string, username: string, expiresAt: number): Promise<string> {
  return new SignJWT({ name: username })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuer("roomcast")
    .setAudience("roomcast")
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt / 1000))
    .sign(new TextEncoder().encode(FAULT_SECRET));
}

it("F5 many tokens expire at once: renewed sockets lose nothing, the rest close 4401 and get nothing after", async () => {
  const db = await sharedDatabase();
  cleanup(() => db.stop());
  const server: RunningServer = await startServer({ DATABASE_URL: db.url, JWT_SECRET: FAULT_SECRET, AUTH_GRACE: "2s" });
  cleanup(() => server.stop());
  const prefix = `f5${Date.now().toString(36)}`;
  const rooms = [0, 1, 2, 3, 4].map((r) => `${prefix}-r${r}`);
  const users: { id: string; username: string; token: string }[] = [];
  for (let u = 0; u < 12; u++) {
    const username = `${prefix}-u${u}`;
    await http(server.base, "/auth/register", { json: { username, password: "password-123" } });
    const login = (await http(server.base, "/auth/login", { json: { username, password: "password-123" } })).body as LoginResponse;
    users.push({ id: login.user.id, username, token: login.token });
  }
  for (const id of rooms) await http(server.base, "/rooms", { token: users[0]?.token, json: { id, type: "public" } });

  // Every socket of users 2..11 opens with a token that expires in 4 s, all at once.
  const expiresAt = Date.now() + 4000;
  const ws = server.base.replace("http", "ws");
  const make = (room: string, user: { id: string; username: string; token: string }, renew: boolean): FaultClient => {
    const current = user.token;
    return {
      room,
      userId: user.id,
      client: new RoomClient({
        url: `${ws}/rooms/${room}/ws`,
        open: bearerSocket(() => current),
        backoff: { minMs: 200, maxMs: 2000 },
        // The checks read every message received and every ack.
        record: true,
        renew: renew
          ? {
              expiresAt: () => expiresAt,
              beforeMs: 2000,
              fresh: async () => {
                const until = Date.now() + 3_600_000;
                return { token: await token(user.id, user.username, until), expiresAt: until };
              },
            }
          : undefined,
      }),
    } satisfies FaultClient;
  };
  const short = await Promise.all(users.slice(2).map(async (u) => ({ ...u, token: await token(u.id, u.username, expiresAt) })));
  const senders = rooms.flatMap((room) => users.slice(0, 2).map((u) => make(room, u, false)));
  const renewed = rooms.flatMap((room) => short.slice(0, 5).map((u) => make(room, u, true)));
  const expiring = rooms.flatMap((room) => short.slice(5).map((u) => make(room, u, false)));
  const everyone: Workload = { rooms, base: server.base, clients: [...senders, ...renewed, ...expiring] };
  cleanup(() => stopAll(everyone));
  await connectAll(everyone);

  const load = startLoad({ ...everyone, clients: senders }, 20);
  const cutoff = expiresAt + GRACE_MS;
  // The close frame arrives at exp + grace; Node's ws reports the close only
  // when the TCP connection ends, which wrangler dev's proxy leaves to ws's own
  // 30 s closing timeout. What the client received is checked against the cutoff.
  await waitUntil(() => expiring.every((c) => c.client.closes.includes(4401)), "the unrenewed sockets to close 4401", 45_000);
  await new Promise((r) => setTimeout(r, 3000));
  load.stop();
  const checked: Workload = { ...everyone, clients: [...senders, ...renewed] };
  await settle(checked);

  const report = await check("F5", checked, db.url, await loginToken({ ...everyone, rooms }));
  const late = expiring.flatMap((c) => [...c.client.received.values()].filter((m) => Date.parse(m.createdAt) > cutoff + 250));
  console.log(`F5: ${expiring.length} sockets closed 4401, ${renewed.length} renewed, ${late.length} messages after exp + grace`);
  expect(report.violations).toEqual([]);
  expect(renewed.every((c) => !c.client.closes.includes(4401))).toBe(true);
  expect(late).toEqual([]);
});
