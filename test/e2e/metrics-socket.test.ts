// The self-hosted build's metrics socket (`metrics`, its own listener, no
// token): live gauges of this process, scraped over HTTP as Prometheus would.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
let server: RunningServer;
let token: string;

beforeAll(async () => {
  server = await startServer({}, "workerd");
  await http(server.base, "/auth/register", { json: { username: "metrics-user", password: "password-123" } });
  token = ((await http(server.base, "/auth/login", { json: { username: "metrics-user", password: "password-123" } })).body as LoginResponse)
    .token;
  await http(server.base, "/rooms", { token, json: { id: "m-public", type: "public" } });
  await http(server.base, "/rooms", { token, json: { id: "m-private", type: "private" } });
});

afterAll(async () => {
  await server?.stop();
});

async function scrape(): Promise<{ text: string; value: (series: string) => number | undefined }> {
  const response = await fetch(server.metrics);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("version=0.0.4");
  const text = await response.text();
  const value = (series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  return { text, value };
}

it("reports open sockets by room type and active rooms, following opens and closes", async () => {
  const before = await scrape();
  expect(before.text).toContain("# TYPE websocket_connections gauge");
  expect(before.value(`roomcast_build_info{version="${version}"}`)).toBe(1);
  expect(before.value('websocket_connections{room_type="public"}')).toBe(0);

  const open = (room: string) => Peer.open(`${server.base.replace("http", "ws")}/rooms/${room}/ws`, { Authorization: `Bearer ${token}` });
  const peers = [await open("m-public"), await open("m-public"), await open("m-private")];
  await Promise.all(peers.map((p) => p.waitFor("welcome")));
  const during = await scrape();
  expect(during.value('websocket_connections{room_type="public"}')).toBe(2);
  expect(during.value('websocket_connections{room_type="private"}')).toBe(1);
  expect(during.value("rooms_active")).toBe(2);

  peers[2]?.close();
  await waitUntil(
    async () => (await scrape()).value('websocket_connections{room_type="private"}') === 0,
    "the private socket to leave the gauge",
    5000,
  );
  expect((await scrape()).value("rooms_active")).toBe(1);
  // Not on the public listener without a token: the metrics socket is separate.
  expect((await fetch(`${server.base}/metrics`)).status).not.toBe(200);
  for (const p of peers.slice(0, 2)) p.close();
});
