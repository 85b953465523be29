// The client address of the per-address limits, on real servers: the
// self-hosted build behind the shipped nginx site (which overwrites X-Real-IP
// with the connection's address) reads it from CLIENT_ADDRESS_HEADER; a
// server without the setting (wrangler dev as `npm start`, or plain workerd)
// trusts no header a client can write, so the address is unknown there and
// the per-address limit does not apply.
import { afterAll, beforeAll, expect, it } from "vitest";
import { http } from "../support/node-client.ts";
import { hasNginx, startNginx, type RunningNginx } from "../support/nginx.ts";
import { allOrStop, defaultRuntime, startServer, type RunningServer } from "../support/server.ts";

// The nginx test certificate is self-signed; this file's process only.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

let behindProxy: RunningServer;
let unset: RunningServer;
let nginx: RunningNginx | undefined;

beforeAll(async () => {
  [behindProxy, unset] = await allOrStop<[RunningServer, RunningServer]>([
    startServer({ CLIENT_ADDRESS_HEADER: "X-Real-IP", AUTH_ADDRESS_LIMIT: "3/10m", LOGIN_ACCOUNT_LIMIT: "off" }, "workerd"),
    startServer({ AUTH_ADDRESS_LIMIT: "2/10m", LOGIN_ACCOUNT_LIMIT: "off" }),
  ]);
  if (hasNginx) nginx = await startNginx([Number(new URL(behindProxy.base).port)]);
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all([behindProxy?.stop(), unset?.stop()]);
});

let n = 0;
const login = (base: string, headers: Record<string, string> = {}) =>
  http(base, "/auth/login", { json: { username: `addr-${Date.now().toString(36)}-${n++}`, password: "wrong password" }, headers });

it.skipIf(!hasNginx)(
  "behind the shipped nginx site: one client is one address, whatever X-Real-IP or X-Forwarded-For it sends",
  async () => {
    const base = nginx?.base ?? "";
    for (let i = 1; i <= 3; i++) {
      const forged = { "X-Real-IP": `203.0.113.${i}`, "X-Forwarded-For": `198.51.100.${i}`, "CF-Connecting-IP": `192.0.2.${i}` };
      expect((await login(base, forged)).status).toBe(401);
    }
    const refused = await login(base, { "X-Real-IP": "203.0.113.99" });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({ error: { code: "rate_limited" } });
    // Registrations share the bucket.
    const register = await http(base, "/auth/register", {
      json: { username: `addr-reg-${Date.now().toString(36)}`, password: "password-123" },
    });
    expect(register.status).toBe(429);
    expect(refused.headers.get("x-content-type-options")).toBe("nosniff");
    expect(refused.headers.get("cache-control")).toBe("no-store");
  },
);

it("the self-hosted build reads CLIENT_ADDRESS_HEADER, one bucket per address", async () => {
  // Straight to workerd, as only nginx should: this is why it listens on loopback only.
  const a = { "X-Real-IP": "198.51.100.7" };
  for (let i = 0; i < 3; i++) expect((await login(behindProxy.base, a)).status).toBe(401);
  expect((await login(behindProxy.base, a)).status).toBe(429);
  expect((await login(behindProxy.base, { "X-Real-IP": "198.51.100.8" })).status).toBe(401);
  // Without the header the address is unknown: not limited, and said once in the log.
  expect((await login(behindProxy.base)).status).toBe(401);
  expect(behindProxy.output()).toContain("a request without a valid X-Real-IP header");
});

it(`without CLIENT_ADDRESS_HEADER (${defaultRuntime}): no client-sent header makes an address, so the limit does not apply`, async () => {
  for (let i = 1; i <= 4; i++) {
    const forged = { "X-Real-IP": "203.0.113.5", "X-Forwarded-For": "203.0.113.5", "CF-Connecting-IP": "203.0.113.5" };
    expect((await login(unset.base, forged)).status).toBe(401);
  }
  const warnings = unset
    .output()
    .split("\n")
    .filter((line) => line.includes("the client address is unknown"));
  expect(warnings).toHaveLength(1);
});
