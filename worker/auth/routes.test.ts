import { describe, expect, it } from "vitest";
import { call, signUp, unique } from "../../test/support/api.ts";
import { toBase64Url } from "./base64.ts";

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error.code;
}

describe("POST /auth/register", () => {
  it("creates a user and refuses the same name again", async () => {
    const username = unique("reg").slice(0, 32);
    const first = await call("/auth/register", { method: "POST", json: { username, password: "password-1" } });
    expect(first.status).toBe(201);
    const body = (await first.json()) as { user: { id: string; username: string } };
    expect(body.user.username).toBe(username);
    expect(body.user).not.toHaveProperty("password_hash");
    const again = await call("/auth/register", { method: "POST", json: { username, password: "password-2" } });
    expect(again.status).toBe(409);
    expect(await errorCode(again)).toBe("username_taken");
  });

  it.each([
    [{ username: "ab", password: "password-1" }, "invalid_request"],
    [{ username: "bad name!", password: "password-1" }, "invalid_request"],
    [{ username: "good-name", password: "short" }, "invalid_request"],
    [{ username: "good-name" }, "invalid_request"],
    [[], "invalid_request"],
  ])("answers 400 for %j", async (json, code) => {
    const response = await call("/auth/register", { method: "POST", json });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe(code);
  });

  it("answers 400 invalid_json for a body that is not JSON, and 413 for a huge one", async () => {
    const bad = await call("/auth/register", { method: "POST", body: "{nope" });
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe("invalid_json");
    const huge = await call("/auth/register", { method: "POST", body: JSON.stringify({ username: "x".repeat(70_000) }) });
    expect(huge.status).toBe(413);
    expect(await errorCode(huge)).toBe("payload_too_large");
  });
});

describe("POST /auth/login", () => {
  it("issues a token that /auth/me accepts", async () => {
    const { user, token } = await signUp();
    const me = await call("/auth/me", { token });
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ user });
  });

  it("answers unknown users and wrong passwords with the same body and similar time", async () => {
    const { user } = await signUp();
    const timed = async (json: unknown) => {
      const started = performance.now();
      const response = await call("/auth/login", { method: "POST", json });
      return { status: response.status, body: await response.text(), ms: performance.now() - started };
    };
    const wrong = await timed({ username: user.username, password: "wrong password" });
    const unknown = await timed({ username: unique("ghost"), password: "wrong password" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toBe(wrong.body);
    expect(JSON.parse(wrong.body).error.code).toBe("invalid_credentials");
    // Both paths run one PBKDF2; without the decoy the unknown user answers in ~0 ms.
    expect(unknown.ms).toBeGreaterThan(wrong.ms * 0.4);
  });
});

describe("bearer tokens", () => {
  it.each([
    [undefined, "unauthorized"],
    ["Bearer", "unauthorized"],
    ["Bearer not-a-jwt", "unauthorized"],
    ["Basic dXNlcjpwYXNz", "unauthorized"],
  ])("refuses Authorization %j with 401 and WWW-Authenticate", async (header, code) => {
    const response = await call("/auth/me", { headers: header ? { Authorization: header } : {} });
    expect(response.status).toBe(401);
    expect(response.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
    expect(await errorCode(response)).toBe(code);
  });

  it("refuses a token signed with another key, or with alg none", async () => {
    const { token } = await signUp();
    const [header, payload] = token.split(".");
    const forged = `${header}.${payload}.${"A".repeat(43)}`;
    expect((await call("/auth/me", { token: forged })).status).toBe(401);
    const none = `${toBase64Url(new TextEncoder().encode('{"alg":"none"}'))}.${payload}.`;
    expect((await call("/auth/me", { token: none })).status).toBe(401);
  });
});

describe("POST /auth/ticket", () => {
  it("issues a single-use ticket valid for 30 s", async () => {
    const { token } = await signUp();
    const response = await call("/auth/ticket", { method: "POST", token });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ticket: string; expiresAt: string };
    expect(body.ticket.length).toBeGreaterThanOrEqual(40);
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(25_000);
    expect(ttl).toBeLessThanOrEqual(30_000);
  });
});
