import { CLOSE, errorResponse } from "../../protocol/index.ts";
import type { Config } from "../../core/config.ts";
import { logDebug } from "../../core/log.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { openSockets, userSockets } from "./capacity.ts";
import type { Committer, RoomRefusal } from "./committer.ts";
import type { Handoff } from "./handoff.ts";
import { announceJoin } from "./presence.ts";
import type { RoomMetrics } from "./room-metrics.ts";
import { send, userTag, type Sessions } from "./sessions.ts";

/** What opening a socket needs from the room. */
export interface OpenParts {
  config: Config;
  ctx: DurableObjectState;
  sessions: Sessions;
  committer: Committer;
  metrics: RoomMetrics;
  /** True once drain() ran: upgrades are refused. */
  draining(): boolean;
  /** Prepares the room for work (saves its metadata, then the committer's `ready`). */
  ready(): Promise<true | RoomRefusal>;
  replay(ws: WebSocket, lastSeq: number): Promise<void>;
  goaway(ws: WebSocket, code: number, reason: string): void;
  arm(): Promise<void>;
}

/**
 * Accepts a verified upgrade (handoff.ts): the socket is accepted for
 * hibernation with its user's tag, gets `welcome` (head and presence), the
 * others hear `join` for a user's first tab, and a reconnecting client is
 * replayed what it missed. Refuses with 503 while draining, while another
 * process holds the room, or while PostgreSQL cannot confirm the sequence,
 * and with 429 when the user already holds MAX_SOCKETS_PER_USER sockets.
 */
export async function openSocket(parts: OpenParts, handoff: Handoff, lastSeq: number | undefined): Promise<Response> {
  if (parts.draining()) return refusal("overloaded", "room is shutting down; reconnect shortly");
  const ready = await parts.ready();
  if (ready !== true) {
    return ready === "overloaded"
      ? refusal("overloaded", "room is served by another process; retry shortly", parts.committer.retryAfterS)
      : refusal("database_unavailable", "room cannot confirm its sequence with PostgreSQL yet");
  }
  const { sessions, config } = parts;
  // The Worker refuses before the upgrade; this catches a race past it, and
  // no await comes between this check and the count the room reports below.
  if (config.maxSocketsPerUser > 0 && userSockets(handoff.user.id) >= config.maxSocketsPerUser) {
    metrics.rateLimited.inc({ limit: "sockets_per_user" });
    return refusal("rate_limited", `at most ${config.maxSocketsPerUser} open sockets per user; close one first`);
  }
  const firstTab = sessions.open(handoff.user.id).length === 0;
  const { 0: client, 1: server } = new WebSocketPair();
  parts.ctx.acceptWebSocket(server, [userTag(handoff.user.id)]);
  if (config.maxConnections > 0 && openSockets() >= config.maxConnections) {
    // The Worker refuses before the upgrade; this catches a race past it.
    parts.goaway(server, CLOSE.overloaded, "server at capacity");
    return new Response(null, { status: 101, webSocket: client });
  }
  sessions.attach(server, { user: handoff.user, exp: handoff.exp, connectedAt: Date.now() });
  parts.metrics.socketsChanged(handoff.user.id);
  logDebug(config, "socket_open", { requestId: handoff.requestId, room: handoff.room.id, user: handoff.user.id, lastSeq });
  send(server, {
    type: "welcome",
    room: handoff.room,
    user: handoff.user,
    headSeq: parts.committer.visibleHead(),
    presence: sessions.presence(),
  });
  if (firstTab) announceJoin(sessions, handoff.user, server);
  if (lastSeq !== undefined) void parts.replay(server, lastSeq);
  await parts.arm();
  return new Response(null, { status: 101, webSocket: client });
}

function refusal(code: RoomRefusal | "rate_limited", message: string, retryAfterS = 5): Response {
  return errorResponse(code, message, { "Retry-After": String(retryAfterS) });
}
