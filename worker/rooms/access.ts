import { ROOM_ID_PATTERN } from "../../protocol/index.ts";
import type { ChatRoom, RoomRefusal } from "../../durable-objects/room/chat-room.ts";
import { findRoomAccess, type RoomAccess } from "../../sql/queries.ts";
import { database, type AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

/**
 * Loads a room the caller may see: public rooms for everyone signed in,
 * private rooms for members only. A private room the caller is not in
 * answers 404 like a missing one, so room ids do not leak.
 */
export async function visibleRoom(c: AppContext, roomId: string): Promise<RoomAccess> {
  if (!ROOM_ID_PATTERN.test(roomId)) throw new ApiError("room_not_found", "no such room");
  const access = await findRoomAccess(await database(c), roomId, c.get("user").id);
  if (!access || (access.room.type === "private" && !access.isMember)) {
    throw new ApiError("room_not_found", "no such room");
  }
  return access;
}

/** The room's Durable Object, reached only through its binding and RPC type. */
export function roomStub(env: Env, roomId: string): DurableObjectStub<ChatRoom> {
  return env.ROOMS.get(env.ROOMS.idFromName(roomId));
}

/** The HTTP error for a room's refusal. */
export function roomRefusal(code: RoomRefusal): ApiError {
  return code === "overloaded"
    ? new ApiError("overloaded", "room cannot take messages now; retry later")
    : new ApiError("database_unavailable", "database unavailable, retry later");
}
