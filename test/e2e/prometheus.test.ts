// The metrics bridge, checked by the real tools: Debian's Prometheus scrapes
// the self-hosted build's metrics socket while the test drives known
// traffic, and its HTTP API must answer with exactly that traffic; promtool
// lints the exposition and the alert rules; every PromQL expression of the
// Grafana dashboard runs against that Prometheus and returns data; every
// alert rule evaluates without error.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { hasPrometheus, shippedConfig, startPrometheus, type RunningPrometheus } from "../support/prometheus.ts";
import { startServer, type RunningServer } from "../support/server.ts";

const RULES = resolve("deploy/prometheus/alerts.yml");
const RULE_TESTS = resolve("deploy/prometheus/alerts.test.yml");
const DASHBOARD = resolve("deploy/grafana/roomcast.json");
const LIMIT = "500";
let server: RunningServer;
let prometheus: RunningPrometheus;

beforeAll(async () => {
  if (!hasPrometheus) return;
  server = await startServer({ MAX_CONNECTIONS: LIMIT }, "workerd");
  prometheus = await startPrometheus(await shippedConfig(new URL(server.metrics).host, RULES));
});

afterAll(async () => {
  await prometheus?.stop();
  await server?.stop();
});

it.skipIf(!hasPrometheus)("Prometheus scrapes the metrics socket and sees exactly the traffic driven", async () => {
  const name = `prom${Date.now().toString(36)}`;
  await http(server.base, "/auth/register", { json: { username: name, password: "password-123" } });
  const { token } = (await http(server.base, "/auth/login", { json: { username: name, password: "password-123" } })).body as LoginResponse;
  const FAILED_LOGINS = 3;
  for (let i = 0; i < FAILED_LOGINS; i++) {
    expect((await http(server.base, "/auth/login", { json: { username: name, password: "wrong-password" } })).status).toBe(401);
  }
  const rooms = { public: `${name}-pub`, private: `${name}-priv` };
  for (const [type, id] of Object.entries(rooms)) await http(server.base, "/rooms", { token, json: { id, type } });

  // Two sockets in each room; three messages in each room.
  const ws = server.base.replace("http", "ws");
  const peers = await Promise.all(
    [rooms.public, rooms.public, rooms.private, rooms.private].map((room) =>
      Peer.open(`${ws}/rooms/${room}/ws`, { Authorization: `Bearer ${token}` }),
    ),
  );
  await Promise.all(peers.map((p) => p.waitFor("welcome")));
  for (let i = 0; i < 3; i++) {
    peers[0]?.send({ type: "send", clientMsgId: `p${i}`, body: "hi" });
    peers[2]?.send({ type: "send", clientMsgId: `q${i}`, body: "hi" });
  }
  await Promise.all(peers.map((p) => p.waitFor("message", 3)));

  const expected: [string, number][] = [
    ["sum(websocket_connections)", 4],
    ['websocket_connections{room_type="private"}', 2],
    ["rooms_active", 2],
    ["sum(messages_sent_total)", 6],
    ['messages_sent_total{room_type="public"}', 3],
    ["sum(messages_delivered_total)", 12],
    ['auth_requests_total{result="failure",reason="invalid_credentials"}', FAILED_LOGINS],
    ['auth_requests_total{result="success",reason="login"}', 1],
    ['sum(rpc_calls_total{target="room",method="fetch",code="101"})', 4],
    ['sum(http_requests_total{route="/auth/login",status="401"})', FAILED_LOGINS],
    ["message_processing_seconds_count", 6],
    ["database_up", 1],
    ["websocket_connections_limit", Number(LIMIT)],
  ];
  const seen = new Map<string, number | undefined>();
  await waitUntil(
    async () => {
      for (const [promql] of expected) seen.set(promql, await prometheus.query(promql));
      return expected.every(([promql, want]) => seen.get(promql) === want);
    },
    "Prometheus to see the traffic",
    20_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${JSON.stringify([...seen])}`);
  });

  // promtool's linter accepts the exposition as served, and the rules.
  const text = await (await fetch(server.metrics)).text();
  execFileSync("promtool", ["check", "metrics"], { input: text, stdio: ["pipe", "pipe", "pipe"] });
  execFileSync("promtool", ["check", "rules", RULES], { stdio: "pipe" });
  execFileSync("promtool", ["test", "rules", RULE_TESTS], { stdio: "pipe" });

  // A close, so that every panel has data, then every panel's expression.
  peers[3]?.close();
  await waitUntil(async () => (await prometheus.query("sum(websocket_closes_total)")) === 1, "the close to be scraped", 10_000);
  // rate() needs two samples of the new series.
  await waitUntil(async () => (await prometheus.series("rate(websocket_closes_total[5m])")).length > 0, "two samples of it", 10_000);
  const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: { title: string; targets: { expr: string }[] }[] };
  const empty: string[] = [];
  for (const panel of dashboard.panels) {
    for (const { expr } of panel.targets) {
      const result = await prometheus.series(expr); // throws on a PromQL error
      if (result.length === 0) empty.push(`${panel.title}: ${expr}`);
    }
  }
  expect(empty).toEqual([]);

  // Every alert rule has been evaluated, without error.
  await waitUntil(
    async () => {
      const body = (await (await fetch(`${prometheus.base}/api/v1/rules`)).json()) as {
        data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] };
      };
      const rules = body.data.groups.flatMap((g) => g.rules);
      const bad = rules.filter((r) => r.health !== "ok");
      if (bad.some((r) => r.health === "err")) throw new Error(`rules failed: ${JSON.stringify(bad)}`);
      return rules.length === 7 && bad.length === 0;
    },
    "every alert rule to evaluate",
    10_000,
  );

  for (const p of peers) p.close();
});
