import type { Handler } from "hono";
import * as z from "zod";
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
import { limitAddressUpgrades, limitUserUpgrades } from "./upgrade-limits.ts";

const UpgradeQuery = z.object({
  lastSeq: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
});

/** Longest ticket looked up; a longer one is invalid (401) without a query. */
const MAX_TICKET_CHARS = 128;

/**
 * `GET /rooms/:id/ws`: every check happens before the upgrade, so a refused
 * client gets an HTTP status and a JSON body, not a bare close. Checks that
 * answer the same for every room id come first (Upgrade and the handshake's
 * version and key, Origin, capacity,
 * authentication), then the room's visibility, then the query: a caller
 * who may not see the room gets 404 whatever its `lastSeq`.
 */
export const upgradeRoute: Handler<AppEnv> = async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw new ApiError("upgrade_required", "this route only accepts a WebSocket upgrade");
  }
  checkHandshake(c.req.header("Sec-WebSocket-Version"), c.req.header("Sec-WebSocket-Key"));
  const config = configOf(c);
  const origin = c.req.header("Origin");
  if (origin && !originAllowed(origin, config.allowedOrigins, c.req.url)) {
    throw new ApiError("origin_not_allowed", "origin not allowed");
  }
  if (config.maxConnections > 0 && openSockets() >= config.maxConnections) {
    throw new ApiError("overloaded", "server at capacity; retry shortly");
  }
  limitAddressUpgrades(c);
  const { user, exp } = await authenticate(c, c.req.query("ticket"));
  c.set("user", user);
  limitUserUpgrades(c, user.id);
  const { room } = await visibleRoom(c, c.req.param("id") ?? "");
  const query = validate(UpgradeQuery, c.req.query());
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

/**
 * `*` allows any origin; otherwise an exact match of scheme, host and port,
 * or the server's own origin: the chat page it serves (worker/page.ts) works
 * on any host without configuration. A page elsewhere cannot send this
 * server's Host, so that opens nothing to other sites. The scheme is not
 * compared there: behind a proxy that ends TLS the Worker sees http://.
 */
export function originAllowed(origin: string, allowed: readonly string[], requestUrl?: string): boolean {
  return allowed.includes("*") || allowed.includes(origin) || (requestUrl !== undefined && sameHost(origin, requestUrl));
}

function sameHost(origin: string, requestUrl: string): boolean {
  try {
    const parsed = new URL(origin);
    // Only a well-formed http(s) origin, exactly as browsers send it.
    if ((parsed.protocol !== "http:" && parsed.protocol !== "https:") || parsed.origin !== origin) return false;
    return parsed.host === new URL(requestUrl).host;
  } catch {
    return false;
  }
}

async function authenticate(c: AppContext, ticket: string | undefined): Promise<{ user: User; exp: number }> {
  const config = configOf(c);
  const token = bearerToken(c.req.header("Authorization"));
  if (token) return verifyBearer(c, token);
  if (ticket && ticket.length <= MAX_TICKET_CHARS) {
    const user = await (await database(c)).consumeTicket(await ticketHash(ticket));
    metrics.authRequests.inc(user ? { result: "success", reason: "ticket" } : { result: "failure", reason: "ticket_invalid" });
    if (!user) throw new ApiError("unauthorized", "ticket invalid, expired or already used");
    // A ticket-opened socket gets a token lifetime from now; it renews with an `auth` frame.
    return { user, exp: Math.floor(Date.now() / 1000) + config.tokenTtlSeconds };
  }
  if (ticket) {
    metrics.authRequests.inc({ result: "failure", reason: "ticket_invalid" });
    throw new ApiError("unauthorized", "ticket invalid, expired or already used");
  }
  metrics.authRequests.inc({ result: "failure", reason: "missing_token" });
  throw new ApiError("unauthorized", "missing bearer token or ticket");
}

/** A base64 encoding of 16 bytes, as RFC 6455 requires of Sec-WebSocket-Key. */
const HANDSHAKE_KEY = /^[A-Za-z0-9+/]{21}[AQgw]==$/;

/**
 * RFC 6455's version (13) and key, checked before anything else: left to the
 * runtime, a defective handshake was authenticated, spent a ticket and
 * reached the room (whose other users saw a presence join and leave) before
 * workerd refused it in plain text (found by test/security/sockets.test.ts).
 */
export function checkHandshake(version: string | undefined, key: string | undefined): void {
  if (version?.trim() !== "13") {
    throw new ApiError("upgrade_required", "WebSocket version 13 required", { "Sec-WebSocket-Version": "13" });
  }
  if (!key || !HANDSHAKE_KEY.test(key.trim())) {
    throw new ApiError("invalid_request", "missing or malformed Sec-WebSocket-Key");
  }
}
