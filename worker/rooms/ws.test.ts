import { describe, expect, it } from "vitest";
import { call, connect, createRoom, signUp, unique, UPGRADE_HEADERS } from "../../test/support/api.ts";

async function upgrade(roomId: string, init: { token?: string; query?: string; headers?: Record<string, string> } = {}) {
  return call(`/rooms/${roomId}/ws${init.query ?? ""}`, {
    token: init.token,
    headers: { ...UPGRADE_HEADERS, ...init.headers },
  });
}

async function codeOf(response: Response): Promise<string> {
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe("GET /rooms/:id/ws", () => {
  it("answers 426 to a request without an upgrade", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const response = await call(`/rooms/${roomId}/ws`, { token });
    expect(response.status).toBe(426);
    expect(await codeOf(response)).toBe("upgrade_required");
  });

  it("answers a wrong WebSocket version with 426 and a missing or malformed key with 400, before authentication", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    for (const version of ["8", "junk"]) {
      const wrong = await upgrade(roomId, { token, headers: { "Sec-WebSocket-Version": version } });
      expect(wrong.status).toBe(426);
      expect(wrong.headers.get("Sec-WebSocket-Version")).toBe("13");
      expect(await codeOf(wrong)).toBe("upgrade_required");
    }
    for (const key of ["", "short", "dGhlIHNhbXBsZSBub25jZQ"]) {
      const bad = await upgrade(roomId, { headers: { "Sec-WebSocket-Key": key } });
      expect(bad.status).toBe(400);
      expect(await codeOf(bad)).toBe("invalid_request");
    }
  });

  it("answers 401 without credentials or with a bad token", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    expect((await upgrade(roomId)).status).toBe(401);
    const bad = await upgrade(roomId, { token: "nope" });
    expect(bad.status).toBe(401);
    expect(await codeOf(bad)).toBe("unauthorized");
  });

  it("answers 404 for a missing room and for a private room the caller is not in", async () => {
    const owner = await signUp();
    const stranger = await signUp();
    expect((await upgrade(unique("none"), { token: owner.token })).status).toBe(404);
    const privateRoom = await createRoom(owner.token, "private");
    expect((await upgrade(privateRoom, { token: stranger.token })).status).toBe(404);
    const member = await connect(privateRoom, owner.token);
    await member.waitFor("welcome");
    member.close();
  });

  it("checks Origin against ALLOWED_ORIGINS when the request carries one", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    const evil = await upgrade(roomId, { token, headers: { Origin: "https://evil.example" } });
    expect(evil.status).toBe(403);
    expect(await codeOf(evil)).toBe("origin_not_allowed");
    const allowed = await upgrade(roomId, { token, headers: { Origin: "http://localhost:8787" } });
    expect(allowed.status).toBe(101);
    allowed.webSocket?.accept();
    allowed.webSocket?.close();
  });

  it("always allows the server's own origin (its chat page), whatever the scheme, and nothing that only looks like it", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    // call() sends requests to http://roomcast.test.
    for (const origin of ["http://roomcast.test", "https://roomcast.test"]) {
      const own = await upgrade(roomId, { token, headers: { Origin: origin } });
      expect(own.status, origin).toBe(101);
      own.webSocket?.accept();
      own.webSocket?.close();
    }
    for (const origin of [
      "http://roomcast.test:8080",
      "http://evil.roomcast.test",
      "http://roomcast.test.evil.example",
      "http://roomcast.test/",
      "HTTP://ROOMCAST.TEST",
      "ws://roomcast.test",
      "null",
    ]) {
      const other = await upgrade(roomId, { token, headers: { Origin: origin } });
      expect(other.status, origin).toBe(403);
    }
  });

  it("accepts a ticket once", async () => {
    const { token, user } = await signUp();
    const roomId = await createRoom(token);
    const { ticket } = (await (await call("/auth/ticket", { method: "POST", token })).json()) as { ticket: string };
    const first = await upgrade(roomId, { query: `?ticket=${encodeURIComponent(ticket)}` });
    expect(first.status).toBe(101);
    first.webSocket?.accept();
    first.webSocket?.close();
    const second = await upgrade(roomId, { query: `?ticket=${encodeURIComponent(ticket)}` });
    expect(second.status).toBe(401);
    expect(await codeOf(second)).toBe("unauthorized");
    const forged = await upgrade(roomId, { query: "?ticket=made-up" });
    expect(forged.status).toBe(401);
    expect(user.id).toBeTruthy();
  });

  it("ignores identity headers sent by the client", async () => {
    const alice = await signUp("alice");
    const mallory = await signUp("mallory");
    const roomId = await createRoom(alice.token);
    const forged = JSON.stringify({ user: alice.user, room: { id: roomId, name: roomId, type: "public", createdAt: "x" }, exp: 9e9 });
    const response = await upgrade(roomId, { token: mallory.token, headers: { "X-Roomcast-Identity": forged } });
    expect(response.status).toBe(101);
    const ws = response.webSocket;
    if (!ws) throw new Error("no socket");
    const first = new Promise<string>((resolve) => ws.addEventListener("message", (e) => resolve(String(e.data)), { once: true }));
    ws.accept();
    const welcome = JSON.parse(await first) as { user: { id: string } };
    expect(welcome.user.id).toBe(mallory.user.id);
    ws.close();
  });

  it("refuses a malformed lastSeq with 400", async () => {
    const { token } = await signUp();
    const roomId = await createRoom(token);
    expect((await upgrade(roomId, { token, query: "?lastSeq=-4" })).status).toBe(400);
  });
});
