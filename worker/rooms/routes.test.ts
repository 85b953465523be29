import { describe, expect, it } from "vitest";
import type { Message, Room } from "../../protocol/index.ts";
import { call, createRoom, signUp, unique } from "../../test/support/api.ts";

describe("rooms", () => {
  it("creates a room, refuses the id again, lists and gets it", async () => {
    const { token } = await signUp();
    const id = unique("room");
    const created = await call("/rooms", { method: "POST", token, json: { id, name: "Lobby", type: "public" } });
    expect(created.status).toBe(201);
    const { room } = (await created.json()) as { room: Room };
    expect(room).toMatchObject({ id, name: "Lobby", type: "public" });
    expect(Number.isNaN(Date.parse(room.createdAt))).toBe(false);

    const again = await call("/rooms", { method: "POST", token, json: { id, type: "public" } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("room_exists");

    const list = (await (await call("/rooms", { token })).json()) as { rooms: Room[] };
    expect(list.rooms.map((r) => r.id)).toContain(id);
    expect(await (await call(`/rooms/${id}`, { token })).json()).toEqual({ room });
  });

  it.each([
    { id: "Upper", type: "public" },
    { id: "-dash", type: "public" },
    { id: "a".repeat(65), type: "public" },
    { id: "ok", type: "secret" },
    { type: "public" },
  ])("refuses %j with 400 invalid_request", async (json) => {
    const { token } = await signUp();
    const response = await call("/rooms", { method: "POST", token, json });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("invalid_request");
  });

  it("requires a token", async () => {
    expect((await call("/rooms")).status).toBe(401);
    expect((await call("/rooms", { method: "POST", json: { id: "x", type: "public" } })).status).toBe(401);
  });

  it("hides private rooms from non-members until the owner adds them", async () => {
    const owner = await signUp("owner");
    const other = await signUp("other");
    const id = await createRoom(owner.token, "private");

    expect((await call(`/rooms/${id}`, { token: other.token })).status).toBe(404);
    const listed = (await (await call("/rooms", { token: other.token })).json()) as { rooms: Room[] };
    expect(listed.rooms.map((r) => r.id)).not.toContain(id);
    expect((await call(`/rooms/${id}/messages`, { token: other.token })).status).toBe(404);

    const byStranger = await call(`/rooms/${id}/members`, { method: "POST", token: other.token, json: { username: other.user.username } });
    expect(byStranger.status).toBe(404);
    const unknown = await call(`/rooms/${id}/members`, { method: "POST", token: owner.token, json: { username: unique("ghost") } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("user_not_found");

    const added = await call(`/rooms/${id}/members`, { method: "POST", token: owner.token, json: { username: other.user.username } });
    expect(added.status).toBe(204);
    expect((await call(`/rooms/${id}`, { token: other.token })).status).toBe(200);
    const third = await signUp("third");
    const notOwner = await call(`/rooms/${id}/members`, { method: "POST", token: other.token, json: { username: third.user.username } });
    expect(notOwner.status).toBe(403);
  });
});

describe("messages over REST", () => {
  it("publishes in order, dedupes by clientMsgId and pages history", async () => {
    const { token, user } = await signUp();
    const id = await createRoom(token);
    const seqs: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const response = await call(`/rooms/${id}/messages`, { method: "POST", token, json: { clientMsgId: `c${i}`, body: `m${i}` } });
      expect(response.status).toBe(201);
      const { message } = (await response.json()) as { message: Message };
      expect(message).toMatchObject({ roomId: id, userId: user.id, username: user.username, body: `m${i}`, clientMsgId: `c${i}` });
      seqs.push(message.seq);
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5]);

    const replay = await call(`/rooms/${id}/messages`, { method: "POST", token, json: { clientMsgId: "c2", body: "other" } });
    expect(((await replay.json()) as { message: Message }).message).toMatchObject({ seq: 2, body: "m2" });

    const page = async (query: string) =>
      ((await (await call(`/rooms/${id}/messages${query}`, { token })).json()) as { messages: Message[] }).messages.map((m) => m.seq);
    expect(await page("")).toEqual([1, 2, 3, 4, 5]);
    expect(await page("?after=2&limit=2")).toEqual([3, 4]);
    expect(await page("?before=4&limit=2")).toEqual([2, 3]);
    expect(await page("?limit=2")).toEqual([4, 5]);
  });

  it.each(["?limit=0", "?limit=201", "?after=-1", "?after=x", "?after=1&before=3"])("refuses history query %s with 400", async (query) => {
    const { token } = await signUp();
    const id = await createRoom(token);
    const response = await call(`/rooms/${id}/messages${query}`, { token });
    expect(response.status).toBe(400);
  });

  it("refuses a body over the limit and a missing clientMsgId", async () => {
    const { token } = await signUp();
    const id = await createRoom(token);
    const long = await call(`/rooms/${id}/messages`, { method: "POST", token, json: { clientMsgId: "a", body: "x".repeat(4001) } });
    expect(long.status).toBe(400);
    const missing = await call(`/rooms/${id}/messages`, { method: "POST", token, json: { body: "x" } });
    expect(missing.status).toBe(400);
  });

  it("answers 404 for an unknown room", async () => {
    const { token } = await signUp();
    const response = await call(`/rooms/${unique("none")}/messages`, { method: "POST", token, json: { clientMsgId: "a", body: "x" } });
    expect(response.status).toBe(404);
  });
});

describe("health", () => {
  it("answers healthz and readyz, and unknown routes with a JSON 404", async () => {
    expect(await (await call("/healthz")).json()).toEqual({ status: "ok" });
    expect((await call("/readyz")).status).toBe(200);
    const missing = await call("/nope");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
