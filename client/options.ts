// The shapes a RoomClient is made with and reports in: what its socket must
// offer, its options, its presence changes and its connection states.
import type { Message, PresenceUser } from "../protocol/model.ts";
import type { SendLimits } from "./sends.ts";

/** The part of the WHATWG WebSocket this client uses. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: { data?: unknown; code?: number }) => void): void;
}

/** How the client reaches the server. */
export interface RoomClientOptions {
  /** The room's WebSocket URL without query, e.g. `ws://127.0.0.1:8787/rooms/lobby/ws`. */
  url: string;
  /**
   * Opens a socket (adds credentials: a header in Node, a ticket in browsers).
   * When it throws a RoomcastApiError, a 4xx other than 408 and 429 closes the
   * client for good; a `retryAfterMs` is waited out before the next try.
   */
  open: (url: string) => SocketLike | Promise<SocketLike>;
  /** Pages of history after a seq, for `resync_required` (GET /rooms/:id/messages?after=). */
  history?: (afterSeq: number) => Promise<Message[]>;
  /**
   * Token renewal on the open socket: the expiry (ms) of the token the socket
   * was opened with, how to get a fresh one, and how long before expiry to send it.
   */
  renew?: { expiresAt: () => number | undefined; fresh: () => Promise<{ token: string; expiresAt: number }>; beforeMs: number };
  backoff?: { minMs: number; maxMs: number };
  /** A socket not welcomed within this time is dropped and retried (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * Heartbeat: a `ping` this often (default 25 s; 0 turns it off). It carries
   * `lastSeq` as a read receipt when the client has read more since the last
   * one, and every fourth beat regardless; otherwise it is the plain ping the
   * runtime answers without waking the room. A socket with no `pong` within
   * `pongTimeoutMs` (default 10 s) is dropped and reconnected.
   */
  heartbeatMs?: number;
  pongTimeoutMs?: number;
  /** Called for every message, once per seq, in seq order. */
  onMessage?: (message: Message) => void;
  /** Called when a send is acknowledged, with the seq it was stored under. */
  onAck?: (clientMsgId: string, seq: number) => void;
  /** Called on every change of {@link RoomClient.state}. */
  onState?: (state: ConnectionState) => void;
  /**
   * Reconnect after a 4401 close (token expired) instead of closing for good:
   * for an `open` that authenticates afresh each time (connectRoom's).
   */
  retryUnauthorized?: boolean;
  /** The deployment's limits, checked before a send leaves (default the contract's: 4000 characters, 16 384 bytes). */
  limits?: Partial<SendLimits>;
  /** Called after every change of {@link RoomClient.presence}: a `welcome`'s list, or a join or leave. */
  onPresence?: (change: PresenceChange, presence: ReadonlyMap<string, PresenceUser>) => void;
  /** Called when another user of the room is typing. */
  onTyping?: (user: PresenceUser) => void;
  /** {@link RoomClient.typing} sends at most one `typing` frame this often (default 3000 ms). */
  typingThrottleMs?: number;
  /**
   * Messages held ahead of a gap (waiting for a `resync_required` fill) past
   * which the client drops the socket and resumes from its last seq, so that a
   * fill that never comes cannot grow memory without end (default 10 000).
   */
  maxAhead?: number;
  /**
   * Test mode: keep every message received (`received`), every ack (`acked`),
   * ack latency, close code and resync, for checks after the run. Without it
   * `received` holds only messages waiting behind a gap, and the others keep
   * their last {@link RECENT} entries.
   */
  record?: boolean;
}

/** A change of presence: the whole list from a `welcome`, or one user's join or leave. */
export type PresenceChange = { event: "welcome"; users: PresenceUser[] } | { event: "join" | "leave"; user: PresenceUser };

/**
 * `connecting` until the first welcome, `open` while a socket is welcomed,
 * `reconnecting` after losing one, `closed` before start(), after stop() and
 * after a refusal for good (see {@link RoomClient.failure}).
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";
