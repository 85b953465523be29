import { ROOM_ID_PATTERN, type Room } from "../../protocol/index.ts";
import type { ChatRoom, PublishRefusal } from "../../durable-objects/room/chat-room.ts";
import { database, type AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

/** A room the caller may see, and its owner. */
export interface VisibleRoom {
  room: Room;
  ownerId: string;
}

// What PostgreSQL once granted stays true in contract v1: a room's id, name,
// type, owner and creation time never change, and members are never removed.
// So every isolate remembers, bounded, the rooms it has looked up and the
// (private room, member) pairs it has confirmed, and an upgrade to a known
// room needs no query (measured: at about 130 reconnects/s the lookup per
// upgrade made the 101 wait 0.9 s at p50). Refusals are never cached: a
// user added to a room gets in at once. A room deleted by hand in SQL stays
// visible to the isolates that knew it until they restart.
const CACHE_MAX = 50_000;
const knownRooms = new Map<string, VisibleRoom>();
const knownMembers = new Set<string>();

/** Makes room for one more entry by dropping the oldest. */
function makeRoom<K>(cache: Map<K, unknown> | Set<K>): void {
  if (cache.size < CACHE_MAX) return;
  const oldest = cache.keys().next();
  if (!oldest.done) cache.delete(oldest.value);
}

/**
 * Loads a room the caller may see: public rooms for everyone signed in,
 * private rooms for members only. A private room the caller is not in
 * answers 404 like a missing one, so room ids do not leak.
 */
export async function visibleRoom(c: AppContext, roomId: string): Promise<VisibleRoom> {
  if (!ROOM_ID_PATTERN.test(roomId)) throw new ApiError("room_not_found", "no such room");
  const userId = c.get("user").id;
  const memberKey = `${roomId}\u0000${userId}`;
  const known = knownRooms.get(roomId);
  if (known && (known.room.type === "public" || knownMembers.has(memberKey))) return known;
  const access = await (await database(c)).findRoomAccess(roomId, userId);
  if (!access || (access.room.type === "private" && !access.isMember)) {
    throw new ApiError("room_not_found", "no such room");
  }
  const visible = { room: access.room, ownerId: access.ownerId };
  makeRoom(knownRooms);
  knownRooms.set(roomId, visible);
  if (access.room.type === "private") {
    makeRoom(knownMembers);
    knownMembers.add(memberKey);
  }
  return visible;
}

/** The room's Durable Object, reached only through its binding and RPC type. */
export function roomStub(env: Env, roomId: string): DurableObjectStub<ChatRoom> {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

/** The HTTP error for a room's refusal. */
export function roomRefusal(refusal: PublishRefusal): ApiError {
  switch (refusal.code) {
    case "rate_limited":
      return new ApiError("rate_limited", "message budget spent; retry later", { "Retry-After": String(refusal.retryAfterS) });
    case "overloaded":
      return new ApiError("overloaded", "room cannot take messages now; retry later");
    case "database_unavailable":
      return new ApiError("database_unavailable", "database unavailable, retry later");
  }
}
