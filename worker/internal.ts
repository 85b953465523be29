import { Hono } from "hono";
import { liveRooms } from "../durable-objects/room/capacity.ts";
import { bearerToken } from "./auth/middleware.ts";
import { configOf, type AppEnv } from "./context.ts";
import { ApiError } from "./errors.ts";
import { roomStub } from "./rooms/access.ts";

/**
 * `POST /internal/drain`: used by the process supervisor (scripts/start.ts on
 * SIGTERM) before a shutdown or redeploy. Every room with open sockets in
 * this isolate sends `goaway` and closes them 1012. Disabled (404) unless
 * DRAIN_TOKEN is set; the token is compared in constant time.
 */
export const internalRoutes = new Hono<AppEnv>().post("/drain", async (c) => {
  const expected = configOf(c).drainToken;
  if (!expected) throw new ApiError("not_found", "no such route");
  const given = bearerToken(c.req.header("Authorization")) ?? "";
  const encoder = new TextEncoder();
  const a = encoder.encode(given);
  const b = encoder.encode(expected);
  if (a.byteLength !== b.byteLength || !crypto.subtle.timingSafeEqual(a, b)) {
    throw new ApiError("unauthorized", "drain token required");
  }
  const rooms = liveRooms();
  const counts = await Promise.all(rooms.map((id) => roomStub(c.env, id).drain()));
  return c.json({ rooms: rooms.length, sockets: counts.reduce((sum, n) => sum + n, 0) });
});
