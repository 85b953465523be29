// A typed client for one room: reconnects with jittered backoff (or after the
// server's goaway delay), resumes from the last seq it holds, resends what was
// not acknowledged, fills gaps the server reports with resync_required, and
// renews its token on the open socket. Runs in browsers and in Node (give it
// a WebSocket constructor such as the `ws` package's).
import { backoffMs, goawayDelayMs, parseServerFrame, type Message, type ServerFrame } from "../protocol/index.ts";

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
}

/** Close codes after which reconnecting cannot help. */
const TERMINAL = new Set([4401, 4403]);

/** A connection to one room that survives disconnects. */
export class RoomClient {
  /** Messages by seq, deduplicated. */
  readonly received = new Map<number, Message>();
  /** clientMsgId → seq, for every acknowledged send. */
  readonly acked = new Map<string, number>();
  /** Sends not yet acknowledged, in the order they were made. */
  readonly pending = new Map<string, string>();
  /** Every `resync_required` received, by fromSeq. */
  readonly resyncs: number[] = [];
  readonly closes: number[] = [];
  /** Milliseconds from the first transmission of each send to its ack. */
  readonly ackLatencies: number[] = [];
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
    this.#stopHeartbeat();
    this.#socket?.close(1000, "bye");
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
    this.#socket = socket;
    // A server that accepts TCP but never answers (starting up, overloaded)
    // must not leave the client waiting forever.
    let welcomed = false;
    const watchdog = setTimeout(() => {
      if (welcomed || this.#socket !== socket) return;
      // Give up on it now; its close event may come much later (or never,
      // if the server does not answer the closing handshake).
      this.#socket = null;
      socket.close(4000, "connect timeout");
      this.#retry();
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
        if (event.code !== undefined && event.code !== 4000) this.closes.push(event.code);
        return;
      }
      this.#socket = null;
      this.closes.push(event.code ?? 0);
      clearTimeout(this.#renewTimer);
      this.#stopHeartbeat();
      if (!this.#stopped && !TERMINAL.has(event.code ?? 0)) this.#retry();
    });
    socket.addEventListener("error", () => {});
  }

  #retry(): void {
    const { minMs, maxMs } = this.#options.backoff ?? { minMs: 250, maxMs: 10_000 };
    // After goaway: at least the server's delay, plus up to a fifth more.
    // Otherwise: exponential backoff with jitter in its upper half.
    const delay = this.#goawayMs !== null ? goawayDelayMs(this.#goawayMs) : backoffMs(this.#attempt, { baseMs: minMs, maxMs });
    this.#goawayMs = null;
    this.#attempt += 1;
    setTimeout(() => void this.#connect(), delay);
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
          if (sentAt !== undefined) this.ackLatencies.push(Date.now() - sentAt);
          this.#sentAt.delete(frame.clientMsgId);
        }
        this.acked.set(frame.clientMsgId, frame.seq);
        return;
      case "resync_required":
        this.resyncs.push(frame.fromSeq);
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
        socket?.close(1000, "goaway");
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
        this.#socket = null;
        this.#stopHeartbeat();
        clearTimeout(this.#renewTimer);
        socket.close(4000, "pong timeout");
        this.#retry();
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

  #accept(message: Message): void {
    if (message.seq <= this.lastSeq || this.received.has(message.seq)) return;
    const { type: _type, ...fields } = message as Message & { type?: string };
    this.received.set(message.seq, fields);
    while (this.received.has(this.lastSeq + 1)) {
      this.lastSeq += 1;
      const next = this.received.get(this.lastSeq);
      if (next) this.#options.onMessage?.(next);
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
