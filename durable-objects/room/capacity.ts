/**
 * Per-isolate count of open room sockets, for MAX_CONNECTIONS and draining.
 * Module state on purpose (a documented exception to "no shared mutable
 * state"): in workerd one process runs one isolate for this script, and the
 * Worker and every room in it share this map, so the Worker can refuse an
 * upgrade before it happens. Each room reports its own count of open sockets
 * (from ctx.getWebSockets(), so hibernation does not skew it). On Cloudflare
 * isolates are many and MAX_CONNECTIONS stays unset.
 */
import type { RoomType } from "../../protocol/index.ts";

const rooms = new Map<string, { count: number; type: RoomType }>();
let total = 0;

/** Sockets open in this isolate. */
export function openSockets(): number {
  return total;
}

/** Room ids with at least one open socket in this isolate (for draining). */
export function liveRooms(): string[] {
  return [...rooms.keys()];
}

/** A room's current number of open sockets. */
export function reportRoomSockets(roomId: string, type: RoomType, count: number): void {
  total += count - (rooms.get(roomId)?.count ?? 0);
  if (count > 0) rooms.set(roomId, { count, type });
  else rooms.delete(roomId);
}
