import { createExecutionContext, env, evictDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Client, connect, createRoom, signUp, stubOf, unique, UPGRADE_HEADERS } from "../../test/support/api.ts";
import { app } from "../app.ts";

/**
 * Upgrades through the Worker's app under the test environment plus `vars`
 * (one env object, so one parsed config and one set of buckets per call of
 * this function). The rooms keep the test environment's settings.
 */
function withVars(vars: Record<string, string>) {
  const varsEnv = { ...env, ...vars };
  return async (roomId: string, init: { token?: string; headers?: Record<string, string> } = {}): Promise<Response> => {
    const headers = new Headers({ ...UPGRADE_HEADERS, ...init.headers });
    if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`http://roomcast.test/rooms/${roomId}/ws`, { headers }), varsEnv, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

/** The socket of a 101, welcomed; throws with the answer otherwise. */
async function opened(response: Response): Promise<Client> {
  if (response.status !== 101 || !response.webSocket) throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
  const client = new Client(response.webSocket);
  await client.waitFor("welcome");
  return client;
}

async function expectRateLimited(response: Response, maxSeconds: number): Promise<void> {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get("Retry-After"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(maxSeconds);
  expect(((await response.json()) as { error: { code: string } }).error.code).toBe("rate_limited");
}

/** Upgrades until one is let through (the room counts a close when it handles it); the number of tries is small. */
async function eventuallyOpened(upgrade: () => Promise<Response>): Promise<Client> {
  for (let tries = 0; ; tries++) {
    const response = await upgrade();
    if (response.status === 101 || tries >= 10) return opened(response);
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("upgrade limits (worker/rooms/upgrade-limits.ts)", () => {
  it("refuses a user's upgrades past UPGRADE_USER_LIMIT with 429 after authentication, before the room lookup", async () => {
    const upgrade = withVars({ UPGRADE_USER_LIMIT: "3/1m" });
    const { token } = await signUp();
    const missing = unique("none");
    for (let i = 0; i < 3; i++) expect((await upgrade(missing, { token })).status).toBe(404);
    await expectRateLimited(await upgrade(missing, { token }), 20);
    // Unauthenticated attempts are not the user's; another user has a budget of its own.
    expect((await upgrade(missing)).status).toBe(401);
    expect((await upgrade(missing, { token: (await signUp()).token })).status).toBe(404);
  });

  it("refuses upgrades from one client address past UPGRADE_ADDRESS_LIMIT before authentication", async () => {
    const upgrade = withVars({ CLIENT_ADDRESS_HEADER: "X-Real-IP", UPGRADE_ADDRESS_LIMIT: "2/1m" });
    const n = crypto.getRandomValues(new Uint8Array(2));
    const address = { "X-Real-IP": `198.51.${n[0]}.${n[1]}` };
    const roomId = unique("none");
    expect((await upgrade(roomId, { headers: address })).status).toBe(401);
    expect((await upgrade(roomId, { headers: address })).status).toBe(401);
    await expectRateLimited(await upgrade(roomId, { headers: address }), 30);
    await expectRateLimited(await upgrade(roomId, { headers: address, token: (await signUp()).token }), 30);
    expect((await upgrade(roomId, { headers: { "X-Real-IP": "203.0.113.77" } })).status).toBe(401);
  });
});

describe("sockets per user (MAX_SOCKETS_PER_USER)", () => {
  it("refuses in the Worker past the cap, over rooms, and counts a socket out when either side closes it, hibernated or not", async () => {
    const upgrade = withVars({ MAX_SOCKETS_PER_USER: "2" });
    const { token } = await signUp();
    const [lobby, den] = [await createRoom(token), await createRoom(token)];
    const first = await opened(await upgrade(lobby, { token }));
    const second = await opened(await upgrade(den, { token }));
    // The rooms' own cap is the test environment's 20: this refusal is the Worker's.
    await expectRateLimited(await upgrade(lobby, { token }), 5);

    first.close();
    await first.waitClose();
    const third = await eventuallyOpened(() => upgrade(lobby, { token }));
    await expectRateLimited(await upgrade(lobby, { token }), 5);

    // Closed by the room (a binary frame: 1003).
    second.ws.send(new Uint8Array([1]));
    expect((await second.waitClose()).code).toBe(1003);
    const fourth = await eventuallyOpened(() => upgrade(den, { token }));

    // Closed by the client while its room is evicted (a hibernated room wakes up for the close).
    await evictDurableObject(stubOf(lobby));
    third.close();
    await third.waitClose();
    const fifth = await eventuallyOpened(() => upgrade(lobby, { token }));
    await expectRateLimited(await upgrade(den, { token }), 5);
    for (const c of [fourth, fifth]) c.close();
  });

  it("is checked again by the room, after the Worker's check", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const sockets: Client[] = [];
    for (let i = 0; i < 20; i++) sockets.push(await connect(roomId, token));
    // A Worker that does not check (its cap is off): the room refuses, still before the upgrade.
    await expectRateLimited(await withVars({ MAX_SOCKETS_PER_USER: "0" })(roomId, { token }), 5);
    for (const c of sockets) c.close();
  });

  it("holds a burst of upgrades to the cap", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const sockets: Client[] = [];
    for (let i = 0; i < 18; i++) sockets.push(await connect(roomId, token));
    const upgrade = withVars({});
    const burst = await Promise.all(Array.from({ length: 5 }, () => upgrade(roomId, { token })));
    expect(burst.map((r) => r.status).sort()).toEqual([101, 101, 429, 429, 429]);
    for (const response of burst) if (response.status === 101) sockets.push(await opened(response));
    for (const c of sockets) c.close();
  });
});
