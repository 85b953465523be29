// RoomcastApi with a fake fetch: requests as the contract writes them, answers
// parsed with the protocol's schemas, refusals as RoomcastApiError. The real
// routes answer it in client/real-server.test.ts.
import { describe, expect, it } from "vitest";
import { parseRetryAfter, RoomcastApi, RoomcastApiError } from "./api.ts";
import { fakeFetch } from "./fake-fetch.ts";
import { message } from "./fake-socket.ts";

const user = { id: "u1", username: "alice" };
const room = { id: "lobby", name: "Lobby", type: "public", createdAt: "2026-01-01T00:00:00.000Z" };

describe("RoomcastApi", () => {
  it("sends each route's method, path, body and bearer token, and unwraps the answer", async () => {
    const { fetch, calls } = fakeFetch((call) => {
      switch (`${call.method} ${call.path.replace(/\?.*/, "")}`) {
        case "POST /auth/register":
          return { status: 201, json: { user } };
        case "POST /auth/login":
          return { status: 200, json: { token: "jwt", expiresAt: "2026-01-01T01:00:00.000Z", user } };
        case "GET /auth/me":
          return { status: 200, json: { user } };
        case "POST /rooms":
        case "GET /rooms/lobby":
          return { status: call.method === "POST" ? 201 : 200, json: { room } };
        case "GET /rooms":
          return { status: 200, json: { rooms: [room] } };
        case "POST /rooms/lobby/members":
          return { status: 204 };
        case "GET /rooms/lobby/messages":
          return { status: 200, json: { messages: [message(3), message(4)] } };
        case "POST /rooms/lobby/messages":
          return { status: 201, json: { message: message(5) } };
        default:
          return { status: 404, json: { error: { code: "not_found", message: "no route" } } };
      }
    });
    const api = new RoomcastApi({ server: "http://chat.test/", token: () => "jwt", fetch });
    expect(await api.register("alice", "password-123")).toEqual(user);
    expect(await api.login("alice", "password-123")).toEqual({ token: "jwt", expiresAt: "2026-01-01T01:00:00.000Z", user });
    expect(await api.me()).toEqual(user);
    expect(await api.createRoom({ id: "lobby", name: "Lobby", type: "public" })).toEqual(room);
    expect(await api.rooms()).toEqual([room]);
    expect(await api.room("lobby")).toEqual(room);
    expect(await api.addMember("lobby", "bob")).toBeUndefined();
    expect((await api.messages("lobby", { before: 5, limit: 2 })).map((m) => m.seq)).toEqual([3, 4]);
    expect((await api.publish("lobby", "c5", "hello")).seq).toBe(5);
    expect(calls.map((c) => [c.method, c.path, c.authorization, c.json])).toEqual([
      ["POST", "/auth/register", undefined, { username: "alice", password: "password-123" }],
      ["POST", "/auth/login", undefined, { username: "alice", password: "password-123" }],
      ["GET", "/auth/me", "Bearer jwt", undefined],
      ["POST", "/rooms", "Bearer jwt", { id: "lobby", name: "Lobby", type: "public" }],
      ["GET", "/rooms", "Bearer jwt", undefined],
      ["GET", "/rooms/lobby", "Bearer jwt", undefined],
      ["POST", "/rooms/lobby/members", "Bearer jwt", { username: "bob" }],
      ["GET", "/rooms/lobby/messages?before=5&limit=2", "Bearer jwt", undefined],
      ["POST", "/rooms/lobby/messages", "Bearer jwt", { clientMsgId: "c5", body: "hello" }],
    ]);
  });

  it("turns a refusal into a RoomcastApiError with the status, the contract's code and Retry-After", async () => {
    const { fetch } = fakeFetch(() => ({
      status: 429,
      json: { error: { code: "rate_limited", message: "too many logins" } },
      headers: { "Retry-After": "7" },
    }));
    const refused = new RoomcastApi({ server: "http://chat.test", fetch }).login("alice", "nope");
    await expect(refused).rejects.toBeInstanceOf(RoomcastApiError);
    await expect(refused).rejects.toMatchObject({ status: 429, code: "rate_limited", message: "too many logins", retryAfterMs: 7000 });
  });

  it("says bad_response for an answer outside the contract and network_error (status 0) for none", async () => {
    const html = fakeFetch(() => ({ status: 502, json: "<html>" }));
    await expect(new RoomcastApi({ server: "http://chat.test", fetch: html.fetch }).me()).rejects.toMatchObject({
      status: 502,
      code: "bad_response",
    });
    const wrongShape = fakeFetch(() => ({ status: 200, json: { user: { id: 1 } } }));
    await expect(new RoomcastApi({ server: "http://chat.test", fetch: wrongShape.fetch }).me()).rejects.toMatchObject({
      status: 200,
      code: "bad_response",
    });
    const down = fakeFetch(() => new TypeError("fetch failed"));
    await expect(new RoomcastApi({ server: "http://chat.test", fetch: down.fetch }).me()).rejects.toMatchObject({
      status: 0,
      code: "network_error",
    });
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("5", now)).toBe(5000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});
