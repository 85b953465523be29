// A RoomClient wired to a server the way a browser must reach it: on every
// (re)connect the app's token provider is asked for a token, the token buys a
// single-use ticket (POST /auth/ticket), and the global WebSocket opens the
// room with it. Node 22 has the same global WebSocket, so the same path
// serves both.
import { RoomcastApi, type FetchLike } from "./api.ts";
import { RoomClient, type RoomClientOptions, type SocketLike } from "./room-client.ts";

/** What {@link connectRoom} needs besides the {@link RoomClientOptions} it passes on. */
export type ConnectRoomOptions = Omit<RoomClientOptions, "url" | "open" | "history"> & {
  /** The server's base URL, e.g. `http://127.0.0.1:8787`; `""` for the page's own origin in a browser. */
  server: string;
  /** The room's id. */
  room: string;
  /** The current bearer token; called on every (re)connect and for each renewal on the open socket. */
  token: () => string | Promise<string>;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Defaults to the global `WebSocket` (browsers, Node 22). */
  WebSocket?: new (url: string) => SocketLike;
};

/** A history page for filling `resync_required` (the contract's largest). */
const FILL_PAGE = 200;

/** A fresh token is sent on the open socket this long before the socket's token runs out. */
const RENEW_BEFORE_MS = 60_000;

/**
 * A {@link RoomClient} for one room of `server`, not yet started: call
 * `start()`. It fills `resync_required` from `GET /rooms/:id/messages`,
 * renews the socket's token with `token()` before it runs out, and closes
 * for good (state `closed`, `failure` set) when the server refuses the token
 * or the room (401, 403, 404); network errors, 5xx and 429 are retried with
 * backoff, after `Retry-After` when given.
 */
export function connectRoom(options: ConnectRoomOptions): RoomClient {
  const { server, room, token, fetch, WebSocket, ...rest } = options;
  const api = new RoomcastApi({ server, token, fetch });
  /** When the open socket's token runs out (ms), estimated from the token it was opened with. */
  let socketExpiresAt: number | undefined;
  /** The last socket closed before its first frame: the next try asks whether the room is there. */
  let unanswered = false;
  return new RoomClient({
    ...rest,
    url: `${webSocketBase(server)}/rooms/${encodeURIComponent(room)}/ws`,
    retryUnauthorized: true,
    open: async (url) => {
      const current = await token();
      const caller = new RoomcastApi({ server, token: () => current, fetch });
      // A browser sees a refused upgrade only as a close; the REST answer
      // says whether it was the room (404, 403) or the token (401).
      if (unanswered) await caller.room(room);
      const { ticket } = await caller.ticket();
      const withTicket = new URL(url);
      withTicket.searchParams.set("ticket", ticket);
      const Socket = WebSocket ?? (globalThis as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
      if (!Socket) throw new Error("no WebSocket: run in a browser or Node 22, or pass one in the options");
      const socket = new Socket(withTicket.toString());
      socketExpiresAt = socketExpiry(current);
      unanswered = true;
      socket.addEventListener("message", () => (unanswered = false));
      return socket;
    },
    history: (after) => api.messages(room, { after, limit: FILL_PAGE }),
    renew: rest.renew ?? {
      expiresAt: () => socketExpiresAt,
      beforeMs: RENEW_BEFORE_MS,
      fresh: async () => {
        const fresh = await token();
        return { token: fresh, expiresAt: jwtClaims(fresh)?.exp ?? 0 };
      },
    },
  });
}

/** `ws:` or `wss:` for the server's origin (the page's own when `server` is empty). */
function webSocketBase(server: string): string {
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const base = new URL(server || page || "");
  base.protocol = base.protocol === "https:" ? "wss:" : "ws:";
  return base.toString().replace(/\/+$/, "");
}

/**
 * When a socket opened now with a ticket bought by `token` runs out, in ms:
 * the server gives a ticket-opened socket a token lifetime from the upgrade,
 * and a token's lifetime is its `exp` − `iat`. Undefined for a token that is
 * no JWT (then no renewal: the server closes 4401 and the client reconnects).
 */
function socketExpiry(token: string): number | undefined {
  const claims = jwtClaims(token);
  if (claims?.exp === undefined) return undefined;
  return claims.iat === undefined ? claims.exp : Date.now() + (claims.exp - claims.iat);
}

/** A JWT's `exp` and `iat` in ms, read without verifying: only for timing renewals. */
function jwtClaims(token: string): { exp?: number; iat?: number } | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(
      payload
        .replace(/-/g, "+")
        .replace(/_/g, "/")
        .padEnd(Math.ceil(payload.length / 4) * 4, "="),
    );
    const claims = JSON.parse(json) as unknown;
    if (typeof claims !== "object" || claims === null) return undefined;
    const seconds = (key: string) => {
      const value = (claims as Record<string, unknown>)[key];
      return typeof value === "number" && Number.isFinite(value) ? value * 1000 : undefined;
    };
    return { exp: seconds("exp"), iat: seconds("iat") };
  } catch {
    return undefined;
  }
}
