// Error reporting: an unexpected error in the Worker reaches a Sentry DSN
// through toucan-js, as a real envelope over HTTP, to a capture server of the
// test's own (a stand-in for sentry.io, which this machine cannot reach). The
// report carries the error and nothing secret: not the JWT secret, not the
// password in the request body, not the bearer token, not the database URL.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { http, waitUntil } from "../support/node-client.ts";
import { freePort, startServer, type RunningServer } from "../support/server.ts";

const SHORT_SECRET = "short-jwt-secret-4711"; // refused in production: login fails with 500
const PASSWORD = "hunter2-password-secret";
const BEARER = "bearer-secret-that-must-not-leak";
const TICKET = "ticket-secret-that-must-not-leak";
const envelopes: string[] = [];
let capture: Server;
let server: RunningServer;

beforeAll(async () => {
  const port = await freePort();
  capture = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      if (req.url?.startsWith("/api/1/envelope/")) envelopes.push(body);
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => capture.listen(port, "127.0.0.1", resolve));
  server = await startServer(
    { ENVIRONMENT: "production", JWT_SECRET: SHORT_SECRET, SENTRY_DSN: `http://publickey@127.0.0.1:${port}/1` },
    "workerd",
  );
});

afterAll(async () => {
  await server?.stop();
  await new Promise<void>((resolve) => capture?.close(() => resolve()));
});

it("reports an internal error to Sentry with its message and without secrets", async () => {
  const username = `sentry${Date.now().toString(36)}`;
  expect((await http(server.base, "/auth/register", { json: { username, password: PASSWORD } })).status).toBe(201);
  const login = await http(server.base, `/auth/login?ticket=${TICKET}&token=${BEARER}`, {
    json: { username, password: PASSWORD },
    headers: { Authorization: `Bearer ${BEARER}`, Cookie: `session=${BEARER}` },
  });
  expect(login.status).toBe(500);
  expect(login.body).toMatchObject({ error: { code: "internal", message: "internal error" } });

  await waitUntil(() => envelopes.length > 0, "the Sentry envelope", 10_000);
  const envelope = envelopes.join("\n");
  expect(envelope).toContain("JWT_SECRET must be at least 32 characters in production");
  expect(envelope).toContain("POST /auth/login");
  for (const secret of [SHORT_SECRET, PASSWORD, BEARER, TICKET, "postgres://"]) expect(envelope).not.toContain(secret);
  // Refusals with a contract code are not errors: a bad login reports nothing.
  const before = envelopes.length;
  expect((await http(server.base, "/auth/login", { json: { username: "nobody-here", password: "wrong-password" } })).status).toBe(401);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(envelopes.length).toBe(before);
});
