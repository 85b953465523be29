import { Hono } from "hono";
import { liveRooms } from "../durable-objects/room/capacity.ts";
import { bearerMatches } from "./auth/shared-secret.ts";
import { configOf, type AppEnv } from "./context.ts";
import { ApiError } from "./errors.ts";
import { roomStub } from "./rooms/access.ts";
import { countRoomCall } from "./rooms/calls.ts";

/**
 * `POST /internal/drain`: used by the process supervisor (scripts/start.ts on
 * SIGTERM) before a shutdown or redeploy. Every room with open sockets in
 * this isolate sends `goaway` and closes them 1012. Disabled (404) unless
 * DRAIN_TOKEN is set; the token is compared in constant time.
 */
export const internalRoutes = new Hono<AppEnv>().post("/drain", async (c) => {
  const expected = configOf(c).drainToken;
  if (!expected) throw new ApiError("not_found", "no such route");
  if (!bearerMatches(c.req.header("Authorization"), expected)) {
    throw new ApiError("unauthorized", "drain token required");
  }
  const rooms = liveRooms();
  const counts = await Promise.all(rooms.map((id) => countRoomCall("drain", roomStub(c.env, id).drain(), () => "ok")));
  return c.json({ rooms: rooms.length, sockets: counts.reduce((sum, n) => sum + n, 0) });
});
