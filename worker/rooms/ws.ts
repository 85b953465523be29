import type { Handler } from "hono";
import { z } from "zod";
import type { User } from "../../protocol/index.ts";
import { openSockets } from "../../durable-objects/room/capacity.ts";
import { handoffRequest } from "../../durable-objects/room/handoff.ts";
import { bearerToken, verifyBearer } from "../auth/middleware.ts";
import { ticketHash } from "../auth/tickets.ts";
import { closeDatabase, configOf, database, validate, type AppContext, type AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { countRoomCall } from "./calls.ts";
import { roomStub, visibleRoom } from "./access.ts";
import { limitUserUpgrades } from "./upgrade-limits.ts";

const UpgradeQuery = z.object({
  ticket: z.string().min(1).max(128).optional(),
  lastSeq: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

/**
 * `GET /rooms/:id/ws`: every check happens before the upgrade, so a refused
 * client gets an HTTP status and a JSON body, not a bare close.
 */
export const upgradeRoute: Handler<AppEnv> = async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("upgrade_required", "this route only accepts a WebSocket upgrade");
  }
  const config = configOf(c);
  const origin = c.req.header("Origin");
  if (origin && !originAllowed(origin, config.allowedOrigins)) {
    throw new ApiError("origin_not_allowed", "origin not allowed");
  }
  if (config.maxConnections > 0 && openSockets() >= config.maxConnections) {
    throw new ApiError("overloaded", "server at capacity; retry shortly");
  }
  const query = validate(UpgradeQuery, c.req.query());
  const { user, exp } = await authenticate(c, query.ticket);
  c.set("user", user);
  limitUserUpgrades(c, user.id);
  const { room } = await visibleRoom(c, c.req.param("id") ?? "");
  closeDatabase(c);
  const answer = await countRoomCall(
    "fetch",
    roomStub(c.env, room.id).fetch(handoffRequest({ user, room, exp, requestId: c.get("requestId") }, query.lastSeq)),
    (r) => String(r.status),
  );
  // A refusal from the room comes with immutable headers; copy it so that
  // the request id can be added like on every other answer.
  return answer.status === 101 ? answer : new Response(answer.body, answer);
};

/** `*` allows any origin; otherwise an exact match of scheme, host and port. */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes("*") || allowed.includes(origin);
}

async function authenticate(c: AppContext, ticket: string | undefined): Promise<{ user: User; exp: number }> {
  const config = configOf(c);
  const token = bearerToken(c.req.header("Authorization"));
  if (token) return verifyBearer(c, token);
  if (ticket) {
    const user = await (await database(c)).consumeTicket(await ticketHash(ticket));
    metrics.authRequests.inc(user ? { result: "success", reason: "ticket" } : { result: "failure", reason: "ticket_invalid" });
    if (!user) throw new ApiError("unauthorized", "ticket invalid, expired or already used");
    // A ticket-opened socket gets a token lifetime from now; it renews with an `auth` frame.
    return { user, exp: Math.floor(Date.now() / 1000) + config.tokenTtlSeconds };
  }
  metrics.authRequests.inc({ result: "failure", reason: "missing_token" });
  throw new ApiError("unauthorized", "missing bearer token or ticket");
}
