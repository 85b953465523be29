// Live-socket rules against the server as npm start runs it: capacity and
// shutdown with goaway. Slow consumers are not testable: workerd queues
// frames natively and keeps bufferedAmount near 0 for a stalled reader, under
// wrangler dev and plain workerd alike (docs/guarantees.md, measured).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, Peer, UpgradeRefused, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

let server: RunningServer;
let token: string;

beforeAll(async () => {
  server = await startServer({
    MAX_CONNECTIONS: "4",
    RECONNECT_SPREAD: "5s",
  });
  await http(server.base, "/auth/register", { json: { username: "sockets-user", password: "password-123" } });
  token = ((await http(server.base, "/auth/login", { json: { username: "sockets-user", password: "password-123" } })).body as LoginResponse).token;
  for (const id of ["cap", "drain"]) await http(server.base, "/rooms", { token, json: { id, type: "public" } });
});

afterAll(async () => {
  await server?.stop();
});

function open(room: string): Promise<Peer> {
  return Peer.open(`${server.base.replace("http", "ws")}/rooms/${room}/ws`, { Authorization: `Bearer ${token}` });
}

describe("live sockets", () => {
  it("refuses upgrades past MAX_CONNECTIONS with 503 and Retry-After, and admits again when one closes", async () => {
    const peers = await Promise.all([open("cap"), open("cap"), open("cap"), open("cap")]);
    await Promise.all(peers.map((p) => p.waitFor("welcome")));
    const refused = await open("cap").then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(UpgradeRefused);
    const { status, headers, body } = refused as UpgradeRefused;
    expect(status).toBe(503);
    expect(headers["retry-after"]).toBeTruthy();
    expect(JSON.parse(body)).toMatchObject({ error: { code: "overloaded" } });
    peers[0]?.close();
    await waitUntil(async () => {
      try {
        const again = await open("cap");
        again.close();
        return true;
      } catch {
        return false;
      }
    }, "a free slot", 10_000);
    for (const p of peers) p.close();
    await new Promise((r) => setTimeout(r, 500));
  });

  it("on SIGTERM sends goaway with a jittered retryAfterMs and closes 1012", async () => {
    const peers = [await open("drain"), await open("drain")];
    await Promise.all(peers.map((p) => p.waitFor("welcome")));
    await server.stop();
    for (const peer of peers) {
      await waitUntil(() => peer.closed !== null, "close", 10_000);
      const [goaway] = peer.of("goaway");
      expect(goaway?.retryAfterMs).toBeGreaterThanOrEqual(1000);
      expect(goaway?.retryAfterMs).toBeLessThan(6000);
      expect(peer.closed?.code).toBe(1012);
    }
  });
});
