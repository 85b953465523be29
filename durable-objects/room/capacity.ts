/**
 * Per-isolate count of open room sockets, for MAX_CONNECTIONS,
 * MAX_SOCKETS_PER_USER and draining.
 * Module state on purpose (a documented exception to "no shared mutable
 * state"): in workerd one process runs one isolate for this script, and the
 * Worker and every room in it share this map, so the Worker can refuse an
 * upgrade before it happens. Each room reports its own count of open sockets
 * (from ctx.getWebSockets(), so hibernation does not skew it), in all and of
 * the user whose socket opened or closed. On Cloudflare isolates are many
 * and MAX_CONNECTIONS stays unset; a user's count there covers only the rooms
 * that share the isolate.
 */
import type { RoomType } from "../../protocol/index.ts";

const rooms = new Map<string, { count: number; type: RoomType }>();
let total = 0;
// Room id → user id → that user's open sockets in the room; and per user, the sum over rooms.
const roomUsers = new Map<string, Map<string, number>>();
const users = new Map<string, number>();

/** Sockets open in this isolate. */
export function openSockets(): number {
  return total;
}

/** Room ids with at least one open socket in this isolate (for draining). */
export function liveRooms(): string[] {
  return [...rooms.keys()];
}

/** A user's open sockets in this isolate, over all rooms. */
export function userSockets(userId: string): number {
  return users.get(userId) ?? 0;
}

/** A room's current number of open sockets; at 0 its users' counts go too (a drain closes them all at once). */
export function reportRoomSockets(roomId: string, type: RoomType, count: number): void {
  total += count - (rooms.get(roomId)?.count ?? 0);
  if (count > 0) rooms.set(roomId, { count, type });
  else rooms.delete(roomId);
  if (count === 0) for (const userId of [...(roomUsers.get(roomId)?.keys() ?? [])]) reportUserSockets(roomId, userId, 0);
}

/** One user's current number of open sockets in a room. */
export function reportUserSockets(roomId: string, userId: string, count: number): void {
  let inRoom = roomUsers.get(roomId);
  const change = count - (inRoom?.get(userId) ?? 0);
  if (change === 0) return;
  const sum = (users.get(userId) ?? 0) + change;
  if (sum > 0) users.set(userId, sum);
  else users.delete(userId);
  if (count > 0) {
    if (!inRoom) roomUsers.set(roomId, (inRoom = new Map()));
    inRoom.set(userId, count);
  } else if (inRoom) {
    inRoom.delete(userId);
    if (inRoom.size === 0) roomUsers.delete(roomId);
  }
}
