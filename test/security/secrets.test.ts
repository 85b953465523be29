// Secrets in error reports. Every other file of the suite searches its own
// server's logs, metrics, Sentry events and error answers for the tokens,
// tickets and passwords it used; but a healthy server reports nothing to
// Sentry, so this file makes every route fail: production with a JWT_SECRET
// under 32 characters turns every use of the signing key into an internal
// error, reported with its request (as test/e2e/sentry.test.ts does for one
// route). Each request carries secrets everywhere a client can put them:
// the Authorization header, cookies, other headers, the query string and
// the body. The reports must arrive, and hold none of them.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { waitUntil } from "../support/node-client.ts";
import { startSecurityServer, Tally, type SecurityServer } from "../support/security.ts";

const tally = new Tally();
let sec: SecurityServer;
const secret = (label: string) => sec.secret(label, `${label.replace(/\W+/g, "-")}-${randomBytes(12).toString("hex")}`);

beforeAll(async () => {
  sec = await startSecurityServer({ ENVIRONMENT: "production", JWT_SECRET: `short-${randomBytes(6).toString("hex")}` });
});

afterAll(async () => {
  await sec?.stop();
});

it("reports every route's internal error to Sentry without a token, ticket, password, cookie, address or the database URL", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("secrets", name, run);
  const username = `sentry-${randomBytes(4).toString("hex")}`;
  const password = secret("password");
  expect((await sec.request("/auth/register", { json: { username, password } })).status).toBe(201);
  const bearer = secret("bearer token");
  const headers = () => ({
    Authorization: `Bearer ${bearer}`,
    Cookie: `session=${secret("cookie")}; other=${secret("second cookie")}`,
    "X-Api-Key": secret("api key header"),
    "X-Real-IP": "203.0.113.77",
    "X-Forwarded-For": "203.0.113.78, 10.0.0.1",
    "X-Debug": sec.databaseUrl,
  });
  const query = () => `?ticket=${secret("ticket in the query")}&token=${secret("token in the query")}&after=1&lastSeq=1`;
  const routes: [string, string, string, unknown][] = [
    ["POST /auth/login", "POST", "/auth/login", { username, password }],
    ["GET /auth/me", "GET", "/auth/me", undefined],
    ["POST /auth/ticket", "POST", "/auth/ticket", undefined],
    ["GET /rooms", "GET", "/rooms", undefined],
    ["POST /rooms", "POST", "/rooms", { id: "sentry-room", type: "public", password: secret("password in a room body") }],
    ["GET /rooms/:id", "GET", "/rooms/sentry-room", undefined],
    ["POST /rooms/:id/members", "POST", "/rooms/sentry-room/members", { username }],
    ["GET /rooms/:id/messages", "GET", "/rooms/sentry-room/messages", undefined],
    ["POST /rooms/:id/messages", "POST", "/rooms/sentry-room/messages", { clientMsgId: "c", body: secret("message body") }],
  ];
  for (const [name, method, path, json] of routes) {
    await check(`${name}: 500 internal, nothing else said`, async () => {
      const answer = await sec.request(`${path}${query()}`, { method, json, headers: headers() });
      expect(answer.status).toBe(500);
      expect(answer.json).toEqual({ error: { code: "internal", message: "internal error" } });
    });
  }
  await check("the upgrade with a Bearer header and a ticket: 500 internal", async () => {
    const result = await sec.upgrade(`/rooms/sentry-room/ws${query()}`, headers());
    if (result.ok) {
      result.socket.destroy();
      throw new Error("upgraded");
    }
    expect(result.answer.status).toBe(500);
  });
  await check("a wrong drain token: 401, a wrong metrics token: 401, neither reported", async () => {
    const drain = await sec.request("/internal/drain", {
      method: "POST",
      headers: { Authorization: `Bearer ${secret("wrong drain token")}` },
    });
    expect(drain.status).toBe(401);
    const metrics = await sec.request("/metrics", { headers: { Authorization: `Bearer ${secret("wrong metrics token")}` } });
    expect(metrics.status).toBe(401);
  });
  await check("every route's error reached Sentry", async () => {
    // One envelope per failed request, each naming its path (without the query).
    const urls = () => sec.capture.envelopes.map((e) => /"url":"http:\/\/[^/"]*([^"]*)"/.exec(e)?.[1]);
    const wanted = [...routes.map(([, , path]) => path), "/rooms/sentry-room/ws"];
    await waitUntil(() => sec.capture.envelopes.length >= wanted.length, "an envelope per failed request", 10_000);
    expect(urls().sort()).toEqual(wanted.sort());
    const all = sec.capture.envelopes.join("\n");
    expect(all).toContain("JWT_SECRET must be at least 32 characters in production");
    expect(all).toContain("/rooms/:id/ws");
  });
  await check("no client address in Sentry", async () => {
    const all = sec.capture.envelopes.join("\n");
    for (const address of ["203.0.113.77", "203.0.113.78"]) expect(all).not.toContain(address);
  });
  await check("the metrics on the public listener, with its token, hold no secret either", async () => {
    const metrics = await sec.request("/metrics", { headers: { Authorization: `Bearer ${sec.secrets.get("METRICS_TOKEN") ?? ""}` } });
    expect(metrics.status).toBe(200);
    expect([...sec.secrets].filter(([, value]) => metrics.text.includes(value)).map(([label]) => label)).toEqual([]);
  });
  await check("logs, metrics, Sentry events and error answers: nothing leaked", async () => expect(await sec.leaks()).toEqual([]));
  tally.expectClean("secrets");
});
