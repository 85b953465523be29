import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, signUp, unique } from "../../test/support/api.ts";
import { app } from "../app.ts";

const PASSWORD = "correct horse battery";

/** The Worker's app under the test environment plus `vars` (a new env object: its config is parsed anew). */
function withVars(vars: Record<string, string>) {
  const varsEnv = { ...env, ...vars };
  return async (path: string, json: unknown, headers: Record<string, string> = {}): Promise<Response> => {
    const ctx = createExecutionContext();
    const request = new Request(`http://roomcast.test${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(json),
    });
    const response = await app.fetch(request, varsEnv, ctx);
    // A successful login gives its attempts back in the background; let that
    // land before the next request. (Waiting on every request would also wait
    // out the metrics report's one-second delay.)
    if (response.status === 200) await waitOnExecutionContext(ctx);
    return response;
  };
}

/** An address of TEST-NET-2 nobody else in the run uses. */
function anAddress(): string {
  const n = crypto.getRandomValues(new Uint8Array(2));
  return `198.51.${n[0]}.${n[1]}`;
}

async function expectRateLimited(response: Response, maxSeconds: number): Promise<void> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get("Retry-After"));
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("rate_limited");
}

describe("login throttle per account (LOGIN_ACCOUNT_LIMIT, default 10/1m)", () => {
  it("refuses past 10 attempts with 429, the same for an unknown username", async () => {
    const { user } = await signUp("victim");
    const codes: string[][] = [];
    for (const username of [user.username, unique("nobody")]) {
      // All at once: every attempt is counted when it arrives, before any hash
      // (and long before a token refills, one per 6 s).
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => call("/auth/login", { method: "POST", json: { username, password: `guess-${i}` } })),
      );
      const limited = answers.filter((r) => r.status === 429);
      expect(answers.filter((r) => r.status === 401)).toHaveLength(10);
      expect(limited).toHaveLength(2);
      for (const response of limited) await expectRateLimited(response, 60);
      codes.push(answers.map((r) => String(r.status)).sort());
    }
    expect(codes[0]).toEqual(codes[1]);
  });

  it("is checked before the password: the right one is refused too, other accounts are not", async () => {
    const { user } = await signUp("victim");
    const post = withVars({ LOGIN_ACCOUNT_LIMIT: "2/10m" });
    expect((await post("/auth/login", { username: user.username, password: "wrong-1" })).status).toBe(401);
    expect((await post("/auth/login", { username: user.username, password: "wrong-2" })).status).toBe(401);
    await expectRateLimited(await post("/auth/login", { username: user.username, password: PASSWORD }), 300);
    const other = await signUp("bystander");
    expect((await post("/auth/login", { username: other.user.username, password: PASSWORD })).status).toBe(200);
  });

  it("does not count successful logins", async () => {
    const { user } = await signUp();
    const post = withVars({ LOGIN_ACCOUNT_LIMIT: "2/10m" });
    for (let i = 0; i < 5; i++) expect((await post("/auth/login", { username: user.username, password: PASSWORD })).status).toBe(200);
    expect((await post("/auth/login", { username: user.username, password: "wrong-1" })).status).toBe(401);
    expect((await post("/auth/login", { username: user.username, password: "wrong-2" })).status).toBe(401);
    await expectRateLimited(await post("/auth/login", { username: user.username, password: PASSWORD }), 300);
  });

  it("refills: no lockout, one attempt per window / limit", async () => {
    const username = unique("refill");
    // Long enough that a slow hash (a loaded CI machine) does not refill it before the second try.
    const post = withVars({ LOGIN_ACCOUNT_LIMIT: "1/4s" });
    expect((await post("/auth/login", { username, password: "x" })).status).toBe(401);
    const refused = await post("/auth/login", { username, password: "x" });
    const wait = Number(refused.headers.get("Retry-After"));
    await expectRateLimited(refused, 4);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 100));
    expect((await post("/auth/login", { username, password: "x" })).status).toBe(401);
  });

  it("is off with LOGIN_ACCOUNT_LIMIT=off", async () => {
    const username = unique("unlimited");
    const post = withVars({ LOGIN_ACCOUNT_LIMIT: "off" });
    for (let i = 0; i < 3; i++) expect((await post("/auth/login", { username, password: "x" })).status).toBe(401);
  });
});

describe("login and register throttle per client address (AUTH_ADDRESS_LIMIT)", () => {
  const post = withVars({ CLIENT_ADDRESS_HEADER: "X-Real-IP", AUTH_ADDRESS_LIMIT: "3/10m", LOGIN_ACCOUNT_LIMIT: "off" });

  it("counts logins and registrations of one address together, whatever else the client sends", async () => {
    const address = anAddress();
    const from = { "X-Real-IP": address };
    expect((await post("/auth/register", { username: unique("a").slice(0, 32), password: PASSWORD }, from)).status).toBe(201);
    expect((await post("/auth/login", { username: unique("b"), password: "x" }, from)).status).toBe(401);
    expect((await post("/auth/register", { username: unique("c").slice(0, 32), password: PASSWORD }, from)).status).toBe(201);
    const spoofed = { ...from, "X-Forwarded-For": anAddress(), "CF-Connecting-IP": anAddress() };
    await expectRateLimited(await post("/auth/login", { username: unique("d"), password: "x" }, spoofed), 200);
    await expectRateLimited(await post("/auth/register", { username: unique("e").slice(0, 32), password: PASSWORD }, from), 200);
    // Another address is not affected.
    expect((await post("/auth/login", { username: unique("f"), password: "x" }, { "X-Real-IP": anAddress() })).status).toBe(401);
  });

  it("counts a whole IPv6 /64 as one address", async () => {
    const prefix = `2001:db8:${anAddress().split(".").slice(2).join(":")}:7`;
    for (let i = 1; i <= 3; i++) {
      expect((await post("/auth/login", { username: unique("v6"), password: "x" }, { "X-Real-IP": `${prefix}::${i}` })).status).toBe(401);
    }
    await expectRateLimited(await post("/auth/login", { username: unique("v6"), password: "x" }, { "X-Real-IP": `${prefix}:1:2:3` }), 200);
  });

  it("counts successful logins not at all, registrations always", async () => {
    const address = anAddress();
    const from = { "X-Real-IP": address };
    const username = unique("office").slice(0, 32);
    expect((await post("/auth/register", { username, password: PASSWORD }, from)).status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await post("/auth/login", { username, password: PASSWORD }, from)).status).toBe(200);
    expect((await post("/auth/login", { username, password: "wrong" }, from)).status).toBe(401);
    expect((await post("/auth/login", { username, password: "wrong" }, from)).status).toBe(401);
    await expectRateLimited(await post("/auth/login", { username, password: PASSWORD }, from), 200);
  });

  it("does not apply when the address is unknown", async () => {
    for (let i = 0; i < 4; i++) expect((await post("/auth/login", { username: unique("anon"), password: "x" })).status).toBe(401);
  });

  it("leaves malformed bodies alone: they cost no hash", async () => {
    const from = { "X-Real-IP": anAddress() };
    for (let i = 0; i < 5; i++) expect((await post("/auth/login", { username: "" }, from)).status).toBe(400);
    expect((await post("/auth/login", { username: unique("g"), password: "x" }, from)).status).toBe(401);
  });
});
