// Structured logs (LOG_LEVEL=debug): one JSON line per request and per socket open and close,
// with the request id (the client's X-Request-Id, as nginx sends it, or a new
// one), and no secret: no token, password, ticket or query string.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, Peer, waitUntil } from "../support/node-client.ts";
import { startServer, type RunningServer } from "../support/server.ts";

let server: RunningServer;

beforeAll(async () => {
  // Per-request and per-socket lines are debug lines (core/log.ts).
  server = await startServer({ LOG_LEVEL: "debug" }, "workerd");
});

afterAll(async () => {
  await server?.stop();
});

/** The JSON log lines the server printed so far. */
function logLines(): Record<string, unknown>[] {
  return server
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

it("logs every request and socket as one JSON line with a request id, and no secrets", async () => {
  const password = "password-that-stays-secret";
  await http(server.base, "/auth/register", { json: { username: "logs-user", password } });
  const login = await http(server.base, "/auth/login", { json: { username: "logs-user", password } });
  const { token } = login.body as LoginResponse;
  expect(login.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  await http(server.base, "/rooms", { token, json: { id: "logs-room", type: "public" } });

  const health = await http(server.base, "/healthz?token=not-logged", { headers: { "X-Request-Id": "req-from-nginx-1" } });
  expect(health.headers.get("x-request-id")).toBe("req-from-nginx-1");
  // A request id that is not a short plain token is replaced, not logged.
  const odd = await http(server.base, "/healthz", { headers: { "X-Request-Id": "has spaces; and more" } });
  expect(odd.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

  // An error is an info line, logged at LOG_LEVEL=info too.
  await http(server.base, "/rooms", { headers: { "X-Request-Id": "req-unauthorised-1" } });

  const peer = await Peer.open(`${server.base.replace("http", "ws")}/rooms/logs-room/ws`, {
    Authorization: `Bearer ${token}`,
    "X-Request-Id": "req-upgrade-1",
  });
  await peer.waitFor("welcome");
  peer.close();

  await waitUntil(() => logLines().some((l) => l.msg === "socket_close"), "the socket_close line", 10_000);
  const lines = logLines();
  expect(lines.find((l) => l.requestId === "req-from-nginx-1")).toMatchObject({
    level: "debug",
    msg: "request",
    method: "GET",
    route: "/healthz",
    path: "/healthz",
    status: 200,
  });
  expect(lines.find((l) => l.msg === "socket_open")).toMatchObject({ requestId: "req-upgrade-1", room: "logs-room" });
  expect(lines.find((l) => l.msg === "socket_close")).toMatchObject({ room: "logs-room", code: 1000 });
  expect(lines.find((l) => l.msg === "request" && l.route === "/rooms/:id/ws")).toMatchObject({ status: 101, requestId: "req-upgrade-1" });
  expect(lines.find((l) => l.requestId === "req-unauthorised-1")).toMatchObject({ level: "info", msg: "request", status: 401 });
  const all = server.output();
  for (const secret of [token, password, "not-logged"]) expect(all).not.toContain(secret);
});
