// Order of checks on room doors: who may see the room comes before what the
// request asks, so a caller who may not see a room (missing, or private and
// not a member) gets the same 404 whatever query or body it sends.
import { describe, expect, it } from "vitest";
import type { Room } from "../../protocol/index.ts";
import { call, createRoom, signUp, unique, UPGRADE_HEADERS } from "../../test/support/api.ts";

interface Door {
  name: string;
  request: (roomId: string, token: string) => Promise<Response>;
}

const ws = (query: string) => (roomId: string, token: string) => call(`/rooms/${roomId}/ws${query}`, { token, headers: UPGRADE_HEADERS });
const history = (query: string) => (roomId: string, token: string) => call(`/rooms/${roomId}/messages${query}`, { token });
const publish = (body: string) => (roomId: string, token: string) =>
  call(`/rooms/${roomId}/messages`, { method: "POST", token, body, headers: { "Content-Type": "application/json" } });

/** Each door with malformed input (and one well-formed case), as a member would get 400 or 413 for. */
const malformed: Door[] = [
  { name: "history ?after=-1", request: history("?after=-1") },
  { name: "history ?before=x", request: history("?before=x") },
  { name: "history ?after&before", request: history("?after=1&before=5") },
  { name: "history ?limit=0", request: history("?limit=0") },
  { name: "history ?limit=201", request: history("?limit=201") },
  { name: "publish: not JSON", request: publish("{") },
  { name: "publish: no fields", request: publish("{}") },
  { name: "publish: body too long", request: publish(JSON.stringify({ clientMsgId: "c1", body: "x".repeat(4001) })) },
  { name: "publish: over 64 KiB", request: publish(JSON.stringify({ clientMsgId: "c1", body: "x".repeat(70_000) })) },
  { name: "upgrade ?lastSeq=-4", request: ws("?lastSeq=-4") },
  { name: "upgrade ?lastSeq=abc", request: ws("?lastSeq=abc") },
];

const wellFormed: Door[] = [
  { name: "room", request: (roomId, token) => call(`/rooms/${roomId}`, { token }) },
  { name: "history ?after=0", request: history("?after=0") },
  { name: "history ?before=3&limit=2", request: history("?before=3&limit=2") },
  { name: "publish", request: publish(JSON.stringify({ clientMsgId: "c1", body: "hello" })) },
  { name: "upgrade", request: ws("") },
  { name: "upgrade ?lastSeq=0", request: ws("?lastSeq=0") },
  {
    name: "add member: malformed body",
    request: (roomId, token) =>
      call(`/rooms/${roomId}/members`, { method: "POST", token, body: "{", headers: { "Content-Type": "application/json" } }),
  },
];

async function answer(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

describe("order of checks on room doors", () => {
  it("a non-member of a private room gets the missing room's 404 at every door, whatever it sends", async () => {
    const owner = await signUp("owner");
    const stranger = await signUp("stranger");
    const privateRoom = await createRoom(owner.token, "private");
    const missing = unique("missing");
    const notFound = { status: 404, body: { error: { code: "room_not_found", message: "no such room" } } };
    for (const door of [...malformed, ...wellFormed]) {
      expect(await answer(await door.request(privateRoom, stranger.token)), `${door.name} on a private room`).toEqual(notFound);
      expect(await answer(await door.request(missing, stranger.token)), `${door.name} on a missing room`).toEqual(notFound);
      expect(await answer(await door.request("Not-A-Room-Id", stranger.token)), `${door.name} on an invalid id`).toEqual(notFound);
    }
    const listed = (await (await call("/rooms", { token: stranger.token })).json()) as { rooms: Room[] };
    expect(listed.rooms.map((r) => r.id)).not.toContain(privateRoom);
  });

  it("a member gets the validation errors of the same requests", async () => {
    const owner = await signUp("owner");
    const privateRoom = await createRoom(owner.token, "private");
    for (const door of malformed) {
      const { status } = await answer(await door.request(privateRoom, owner.token));
      expect([400, 413], door.name).toContain(status);
    }
  });

  it("a ticket for a non-member opens nothing either, whatever its lastSeq", async () => {
    const owner = await signUp("owner");
    const stranger = await signUp("stranger");
    const privateRoom = await createRoom(owner.token, "private");
    const { ticket } = (await (await call("/auth/ticket", { method: "POST", token: stranger.token })).json()) as { ticket: string };
    const response = await call(`/rooms/${privateRoom}/ws?ticket=${encodeURIComponent(ticket)}&lastSeq=-4`, {
      headers: UPGRADE_HEADERS,
    });
    expect(response.status).toBe(404);
  });

  it("authentication comes before the room: a bad token or ticket is 401 at every door, also on a missing room", async () => {
    for (const door of [...malformed, ...wellFormed]) {
      expect((await door.request(unique("missing"), "not-a-token")).status, door.name).toBe(401);
    }
    const longTicket = await call(`/rooms/${unique("missing")}/ws?ticket=${"t".repeat(200)}&lastSeq=-4`, {
      headers: UPGRADE_HEADERS,
    });
    expect(longTicket.status).toBe(401);
  });
});
