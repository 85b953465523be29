import * as z from "zod";
import { RoomSchema, UserSchema, type Room, type User } from "../../protocol/index.ts";

/**
 * How the Worker hands a verified WebSocket upgrade to the room: one header
 * it sets itself after authentication. The Worker builds a fresh request, so
 * no header a client sent reaches the room.
 */
export const IDENTITY_HEADER = "X-Roomcast-Identity";

const Identity = z.object({ user: UserSchema, room: RoomSchema, exp: z.number().int(), requestId: z.string().max(64).optional() });

/** The identity the Worker verified. */
export interface Handoff {
  user: User;
  room: Room;
  /** Token expiry, seconds since the epoch. */
  exp: number;
  /** The upgrade's request id, for the room's log lines. */
  requestId?: string | undefined;
}

/** Builds the request the Worker forwards to the room. */
export function handoffRequest(handoff: Handoff, lastSeq: number | undefined): Request {
  const url = new URL("https://room.internal/ws");
  if (lastSeq !== undefined) url.searchParams.set("lastSeq", String(lastSeq));
  return new Request(url, {
    headers: { Upgrade: "websocket", [IDENTITY_HEADER]: JSON.stringify(handoff) },
  });
}

/** Reads the handoff in the room; null when it is missing or malformed. */
export function readHandoff(request: Request): { handoff: Handoff; lastSeq: number | undefined } | null {
  const header = request.headers.get(IDENTITY_HEADER);
  if (!header) return null;
  let data: unknown;
  try {
    data = JSON.parse(header);
  } catch {
    return null;
  }
  const parsed = Identity.safeParse(data);
  if (!parsed.success) return null;
  const raw = new URL(request.url).searchParams.get("lastSeq");
  const lastSeq = raw === null ? undefined : Number(raw);
  if (lastSeq !== undefined && (!Number.isSafeInteger(lastSeq) || lastSeq < 0)) return null;
  return { handoff: parsed.data, lastSeq };
}
