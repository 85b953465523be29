// A typed client for one room: reconnects with exponential backoff and full
// jitter (or after the server's goaway delay), resumes from the last seq it
// holds, resends what was not acknowledged, fills gaps the server reports with
// resync_required, renews its token on the open socket, keeps the room's
// presence and sends throttled typing frames. Its memory is bounded unless
// `record` (the tests' mode) is set. Runs in browsers and in Node (`open`
// makes the socket: a browser WebSocket with a ticket, or the `ws` package's).
import { backoffMs, CLOSE, goawayDelayMs, parseServerFrame, type Message, type PresenceUser, type ServerFrame } from "../protocol/index.ts";

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
  /** Opens a socket (adds credentials: a header in Node, a ticket in browsers). */
  open: (url: string) => SocketLike | Promise<SocketLike>;
  /** Pages of history after a seq, for `resync_required` (GET /rooms/:id/messages?after=). */
  history?: (afterSeq: number) => Promise<Message[]>;
  /**
   * Token renewal on the open socket: the expiry (ms) of the token the socket
   * was opened with, how to get a fresh one, and how long before expiry to send it.
   */
  renew?: { expiresAt: () => number; fresh: () => Promise<{ token: string; expiresAt: number }>; beforeMs: number };
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

/** Outside test mode, `acked`, `ackLatencies`, `closes` and `resyncs` keep this many of their newest entries. */
export const RECENT = 1000;

/** Close codes after which reconnecting cannot help. */
const TERMINAL = new Set<number>([CLOSE.unauthorized, CLOSE.forbidden]);

/**
 * The code the client closes a socket it gave up on with (no welcome, no pong,
 * too far behind a gap), then reconnects and resumes. The contract reserves
 * 4000 (`resync`) and the server never sends it, so the client's own give-ups
 * are told apart from the server's closes.
 */
const GAVE_UP = CLOSE.resync;

/** A connection to one room that survives disconnects. */
export class RoomClient {
  /**
   * Messages by seq, deduplicated: those held behind a gap, and in test mode
   * (`record`) also every message delivered.
   */
  readonly received = new Map<number, Message>();
  /** clientMsgId → seq of acknowledged sends (all of them in test mode, else the newest {@link RECENT}). */
  readonly acked = new Map<string, number>();
  /** Sends not yet acknowledged, in the order they were made. */
  readonly pending = new Map<string, string>();
  /** The fromSeq of each `resync_required` received (in test mode all, else the newest {@link RECENT}). */
  readonly resyncs: number[] = [];
  /** Close codes of this client's sockets (in test mode all, else the newest {@link RECENT}). */
  readonly closes: number[] = [];
  /** Milliseconds from the first transmission of each send to its ack (in test mode all, else the newest {@link RECENT}). */
  readonly ackLatencies: number[] = [];
  readonly #presence = new Map<string, PresenceUser>();
  /** Messages in `received` with a seq above `lastSeq`. */
  #ahead = 0;
  #typingAt = -Infinity;
  readonly #sentAt = new Map<string, number>();
  /** The seq up to which this client holds every message (from where it started). */
  lastSeq = -1;
  /** The room's head when this client first connected; its stream starts after it. */
  startSeq = -1;
  connects = 0;
  readonly #options: RoomClientOptions;
  #socket: SocketLike | null = null;
  #stopped = false;
  #attempt = 0;
  #goawayMs: number | null = null;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #resendTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #beats = 0;
  #receiptSeq = -1;
  #counter = 0;
  readonly #prefix = Math.random().toString(36).slice(2, 10);

  constructor(options: RoomClientOptions) {
    this.#options = options;
  }

  /** Connects (and keeps reconnecting until {@link stop}). */
  start(): Promise<void> {
    return this.#connect();
  }

  /** Closes for good. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#retryTimer);
    this.#stopHeartbeat();
    this.#socket?.close(CLOSE.normal, "bye");
  }

  /**
   * Who is in the room, by user id (yourself included): the last `welcome`'s
   * list, then its joins and leaves. While disconnected it is the last known.
   */
  get presence(): ReadonlyMap<string, PresenceUser> {
    return this.#presence;
  }

  /**
   * Tells the room this user is typing: sends a `typing` frame unless one was
   * sent within `typingThrottleMs` or no socket is welcomed. Call it on every
   * keystroke; returns whether a frame went out.
   */
  typing(): boolean {
    const socket = this.#socket;
    if (!socket || !this.connected) return false;
    const now = Date.now();
    if (now - this.#typingAt < (this.#options.typingThrottleMs ?? 3000)) return false;
    this.#typingAt = now;
    socket.send('{"type":"typing"}');
    return true;
  }

  /** True while a socket is open and welcomed. */
  get connected(): boolean {
    return this.#socket !== null && this.#socket.readyState === 1 && this.lastSeq >= 0;
  }

  /** Sends a message with a unique clientMsgId; it is resent after reconnects until acknowledged. */
  send(body: string, clientMsgId = `${this.#prefix}-${++this.#counter}`): string {
    this.pending.set(clientMsgId, body);
    this.#sentAt.set(clientMsgId, Date.now());
    this.#transmit(clientMsgId, body);
    return clientMsgId;
  }

  #transmit(clientMsgId: string, body: string): void {
    if (this.#socket?.readyState === 1 && this.lastSeq >= 0) {
      this.#socket.send(JSON.stringify({ type: "send", clientMsgId, body }));
    }
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const url = this.lastSeq >= 0 ? `${this.#options.url}?lastSeq=${this.lastSeq}` : this.#options.url;
    let socket: SocketLike;
    try {
      socket = await this.#options.open(url);
    } catch {
      this.#retry();
      return;
    }
    if (this.#stopped) {
      socket.close(CLOSE.normal, "bye");
      return;
    }
    this.#socket = socket;
    // A server that accepts TCP but never answers (starting up, overloaded)
    // must not leave the client waiting forever.
    let welcomed = false;
    const watchdog = setTimeout(() => {
      if (welcomed || this.#socket !== socket) return;
      // Give up on it now; its close event may come much later (or never,
      // if the server does not answer the closing handshake).
      this.#giveUp(socket, "connect timeout");
    }, this.#options.connectTimeoutMs ?? 10_000);
    socket.addEventListener("message", (event) => {
      if (this.#socket !== socket) return;
      welcomed = true;
      this.#onFrame(String(event.data));
    });
    socket.addEventListener("close", (event) => {
      clearTimeout(watchdog);
      if (this.#socket !== socket) {
        // Given up on already (watchdog or goaway); its close code still counts.
        if (event.code !== undefined && event.code !== GAVE_UP) this.#keep(this.closes, event.code);
        return;
      }
      this.#socket = null;
      this.#keep(this.closes, event.code ?? 0);
      clearTimeout(this.#renewTimer);
      this.#stopHeartbeat();
      if (!this.#stopped && !TERMINAL.has(event.code ?? 0)) this.#retry();
    });
    socket.addEventListener("error", () => {});
  }

  #retry(): void {
    const { minMs, maxMs } = this.#options.backoff ?? { minMs: 250, maxMs: 10_000 };
    // After goaway: at least the server's delay, plus up to a fifth more.
    // Otherwise: exponential backoff with full jitter, anywhere in [0, ceiling).
    const delay =
      this.#goawayMs !== null ? goawayDelayMs(this.#goawayMs) : backoffMs(this.#attempt, { baseMs: minMs, maxMs, jitter: "full" });
    this.#goawayMs = null;
    this.#attempt += 1;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
  }

  #onFrame(raw: string): void {
    const parsed = parseServerFrame(raw);
    if (!parsed.ok) return;
    const frame: ServerFrame = parsed.value;
    switch (frame.type) {
      case "welcome":
        this.connects += 1;
        this.#attempt = 0;
        if (this.lastSeq < 0) this.lastSeq = this.startSeq = frame.headSeq;
        this.#presence.clear();
        for (const user of frame.presence) this.#presence.set(user.userId, user);
        this.#options.onPresence?.({ event: "welcome", users: frame.presence }, this.#presence);
        for (const [id, body] of this.pending) this.#transmit(id, body);
        this.#scheduleRenew();
        this.#startHeartbeat();
        return;
      case "message":
        this.#accept(frame);
        return;
      case "ack":
        if (this.pending.delete(frame.clientMsgId)) {
          const sentAt = this.#sentAt.get(frame.clientMsgId);
          if (sentAt !== undefined) this.#keep(this.ackLatencies, Date.now() - sentAt);
          this.#sentAt.delete(frame.clientMsgId);
          this.acked.delete(frame.clientMsgId);
          this.acked.set(frame.clientMsgId, frame.seq);
          if (!this.#options.record && this.acked.size > RECENT) this.acked.delete(this.acked.keys().next().value as string);
          this.#options.onAck?.(frame.clientMsgId, frame.seq);
        }
        return;
      case "presence":
        if (frame.event === "join") this.#presence.set(frame.user.userId, frame.user);
        else this.#presence.delete(frame.user.userId);
        this.#options.onPresence?.({ event: frame.event, user: frame.user }, this.#presence);
        return;
      case "typing":
        this.#options.onTyping?.(frame.user);
        return;
      case "resync_required":
        this.#keep(this.resyncs, frame.fromSeq);
        void this.#fill(frame.fromSeq - 1);
        return;
      case "goaway": {
        this.#goawayMs = frame.retryAfterMs;
        // Reconnect after the server's delay without waiting for the close:
        // workerd may end the connection only when the room hibernates, 10 s
        // or more after the close frame (docs/guarantees.md).
        const socket = this.#socket;
        this.#socket = null;
        clearTimeout(this.#renewTimer);
        this.#stopHeartbeat();
        socket?.close(CLOSE.normal, "goaway");
        if (socket && !this.#stopped) this.#retry();
        return;
      }
      case "pong":
        clearTimeout(this.#pongTimer);
        this.#pongTimer = undefined;
        return;
      case "error":
        // The frame was refused, not stored: send what is pending again soon.
        if (frame.code === "overloaded" || frame.code === "rate_limited" || frame.code === "internal") this.#resendSoon();
        return;
      default:
        return;
    }
  }

  #startHeartbeat(): void {
    this.#stopHeartbeat();
    const every = this.#options.heartbeatMs ?? 25_000;
    if (every <= 0) return;
    const socket = this.#socket;
    this.#heartbeat = setInterval(() => {
      if (this.#socket !== socket || socket?.readyState !== 1) return;
      this.#beats += 1;
      const receipt = this.lastSeq !== this.#receiptSeq || this.#beats % 4 === 0;
      // The plain ping must be this exact text for the runtime's auto-response.
      socket.send(receipt ? JSON.stringify({ type: "ping", lastSeq: this.lastSeq }) : '{"type":"ping"}');
      if (receipt) this.#receiptSeq = this.lastSeq;
      if (this.#pongTimer !== undefined) return;
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined;
        if (this.#socket !== socket) return;
        // No answer: the connection is dead or the server is stuck.
        this.#giveUp(socket, "pong timeout");
      }, this.#options.pongTimeoutMs ?? 10_000);
    }, every);
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeat);
    clearTimeout(this.#pongTimer);
    this.#heartbeat = undefined;
    this.#pongTimer = undefined;
  }

  #resendSoon(): void {
    if (this.#resendTimer !== undefined) return;
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined;
      for (const [id, body] of this.pending) this.#transmit(id, body);
    }, 1000);
  }

  /** Drops a socket that is no use (its close code is not counted) and reconnects. */
  #giveUp(socket: SocketLike, reason: string): void {
    this.#socket = null;
    this.#stopHeartbeat();
    clearTimeout(this.#renewTimer);
    socket.close(GAVE_UP, reason);
    this.#retry();
  }

  /** Appends to one of the counters, keeping only the newest {@link RECENT} entries outside test mode. */
  #keep(list: number[], value: number): void {
    list.push(value);
    if (!this.#options.record && list.length > RECENT) list.splice(0, list.length - RECENT);
  }

  #accept(message: Message): void {
    if (message.seq <= this.lastSeq || this.received.has(message.seq)) return;
    const { type: _type, ...fields } = message as Message & { type?: string };
    this.received.set(message.seq, fields);
    this.#ahead += 1;
    while (this.received.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      this.#ahead -= 1;
      const next = this.received.get(this.lastSeq);
      if (!this.#options.record) this.received.delete(this.lastSeq);
      if (next) this.#options.onMessage?.(next);
    }
    if (this.#ahead > (this.#options.maxAhead ?? 10_000)) {
      // A gap no fill closed: forget what waits behind it and resume from
      // lastSeq, which has the server send it all again in order.
      for (const seq of this.received.keys()) if (seq > this.lastSeq) this.received.delete(seq);
      this.#ahead = 0;
      const socket = this.#socket;
      if (socket && !this.#stopped) this.#giveUp(socket, "gap not filled");
    }
  }

  async #fill(afterSeq: number): Promise<void> {
    const history = this.#options.history;
    if (!history) return;
    let cursor = afterSeq;
    for (;;) {
      let page: Message[];
      try {
        page = await history(cursor);
      } catch {
        return;
      }
      for (const message of page) this.#accept(message);
      const last = page.at(-1)?.seq;
      if (last === undefined) return;
      cursor = last;
    }
  }

  #scheduleRenew(expiresAt = this.#options.renew?.expiresAt()): void {
    const renew = this.#options.renew;
    if (!renew || expiresAt === undefined) return;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(
      () => {
        renew.fresh().then(
          (fresh) => {
            if (this.#socket?.readyState !== 1) return;
            this.#socket.send(JSON.stringify({ type: "auth", token: fresh.token }));
            this.#scheduleRenew(fresh.expiresAt);
          },
          // No fresh token: try again shortly; the server closes 4401 if none comes.
          () => this.#scheduleRenew(Date.now() + renew.beforeMs + 1000),
        );
      },
      Math.max(0, expiresAt - renew.beforeMs - Date.now()),
    );
  }
}
