import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, connect, createRoom, signUp, unique, UPGRADE_HEADERS } from "../test/support/api.ts";
import { app } from "./app.ts";
import { SECURE_HEADERS } from "./secure-headers.ts";

function expectSecure(response: Response, what: string): void {
  for (const [name, value] of Object.entries(SECURE_HEADERS)) expect(response.headers.get(name), `${what}: ${name}`).toBe(value);
}

describe("secure headers", () => {
  it("are on every answer: success, refusals and errors, authenticated or not", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token, "private");
    const stranger = await signUp();
    const answers: [string, Response][] = [
      ["healthz", await call("/healthz")],
      ["unknown route", await call("/nope")],
      ["login 401", await call("/auth/login", { method: "POST", json: { username: unique("x"), password: "y" } })],
      ["register 400", await call("/auth/register", { method: "POST", body: "{" })],
      ["ticket", await call("/auth/ticket", { method: "POST", token })],
      ["me", await call("/auth/me", { token })],
      ["no token", await call("/rooms")],
      ["rooms", await call("/rooms", { token })],
      ["history", await call(`/rooms/${roomId}/messages`, { token })],
      ["hidden room", await call(`/rooms/${roomId}/messages`, { token: stranger.token })],
      ["upgrade refused by the room's door", await call(`/rooms/${roomId}/ws`, { token: stranger.token, headers: UPGRADE_HEADERS })],
      ["upgrade without Upgrade", await call(`/rooms/${roomId}/ws`, { token })],
    ];
    for (const [what, response] of answers) expectSecure(response, what);
    expect(answers.map(([, r]) => r.status)).toEqual([200, 404, 401, 400, 200, 200, 401, 200, 200, 404, 404, 426]);
  });

  it("are on a 429 and on the 500 of a malformed config", async () => {
    const username = unique("flood");
    let last: Response | undefined;
    for (let i = 0; i < 12 && last?.status !== 429; i++)
      last = await call("/auth/login", { method: "POST", json: { username, password: "x" } });
    expect(last?.status).toBe(429);
    if (last) expectSecure(last, "429");
    const broken = await app.fetch(
      new Request("http://roomcast.test/healthz"),
      { ...env, MAX_BODY_CHARS: "many" },
      createExecutionContext(),
    );
    expect(broken.status).toBe(500);
    expectSecure(broken, "config error");
  });

  it("leave the 101 of an upgrade alone, and the socket works", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const client = await connect(roomId, token);
    await client.waitFor("welcome");
    client.send({ type: "send", clientMsgId: "h1", body: "hello" });
    await client.waitFor("ack");
    client.close();
  });
});
