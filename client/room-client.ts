// A typed client for one room: reconnects with exponential backoff and full
// jitter (or after the server's goaway delay), resumes from the last seq it
// holds, resends what was not acknowledged, fills gaps the server reports with
// resync_required, renews its token on the open socket, keeps the room's
// presence and sends throttled typing frames. Its memory is bounded unless
// `record` (the tests' mode) is set. Runs in browsers and in Node (`open`
// makes the socket: connectRoom's opens the global WebSocket with a ticket).
// This file holds the connection and its states; sends.ts the acks and
// resends, stream.ts the order and gaps, heartbeat.ts the pings, renewal.ts
// the tokens.
// It imports the protocol's modules one by one, not its index: the index
// also holds the server's errorResponse, whose types need a DOM or Workers lib.
import { backoffMs, goawayDelayMs } from "../protocol/backoff.ts";
import { CLOSE } from "../protocol/codes.ts";
import { parseServerFrame, type ServerFrame } from "../protocol/frames.ts";
import type { Message, PresenceUser } from "../protocol/model.ts";
import { RoomcastApiError } from "./api.ts";
import { RoomClientError } from "./errors.ts";
import { Heartbeat } from "./heartbeat.ts";
import type { ConnectionState, RoomClientOptions, SocketLike } from "./options.ts";
import { Renewal } from "./renewal.ts";
import { keepRecent, rejected, Sends } from "./sends.ts";
import { MessageStream } from "./stream.ts";

export { RECENT } from "./sends.ts";
export type { ConnectionState, PresenceChange, RoomClientOptions, SocketLike } from "./options.ts";

/** True for an HTTP refusal that trying again cannot change. */
function refusedForGood(status: number): boolean {
  return status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/**
 * The code the client closes a socket it gave up on with (no welcome, no pong,
 * too far behind a gap), then reconnects and resumes. The contract reserves
 * 4000 (`resync`) and the server never sends it, so the client's own give-ups
 * are told apart from the server's closes.
 */
const GAVE_UP = CLOSE.resync;

/** A connection to one room that survives disconnects. */
export class RoomClient {
  readonly #stream: MessageStream;
  readonly #sends: Sends;
  readonly #heartbeat: Heartbeat;
  readonly #renewal: Renewal;
  /** clientMsgId → seq of acknowledged sends (all of them in test mode, else the newest {@link RECENT}). */
  readonly acked: Map<string, number>;
  /** clientMsgId → body of sends not yet acknowledged, in the order they were made. */
  readonly pending: Map<string, string>;
  /** The fromSeq of each `resync_required` received (in test mode all, else the newest {@link RECENT}). */
  readonly resyncs: number[] = [];
  /** Close codes of this client's sockets (in test mode all, else the newest {@link RECENT}). */
  readonly closes: number[] = [];
  /** Milliseconds from the first transmission of each send to its ack (in test mode all, else the newest {@link RECENT}). */
  readonly ackLatencies: number[];
  readonly #presence = new Map<string, PresenceUser>();
  #typingAt = -Infinity;
  /** Sockets welcomed so far. */
  connects = 0;
  readonly #options: RoomClientOptions;
  #socket: SocketLike | null = null;
  #started = false;
  #stopped = false;
  #state: ConnectionState = "closed";
  #failure: RoomClientError | undefined;
  #attempt = 0;
  /** The server's own delay before the next try (goaway's retryAfterMs, an HTTP Retry-After). */
  #serverDelayMs: number | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #resendTimer: ReturnType<typeof setTimeout> | undefined;
  #counter = 0;
  readonly #prefix = Math.random().toString(36).slice(2, 10);

  constructor(options: RoomClientOptions) {
    this.#options = options;
    this.#sends = new Sends(options.record ?? false, options.limits);
    this.pending = this.#sends.pending;
    this.acked = this.#sends.acked;
    this.ackLatencies = this.#sends.ackLatencies;
    this.#stream = new MessageStream({
      record: options.record ?? false,
      maxAhead: options.maxAhead ?? 10_000,
      deliver: (message) => this.#options.onMessage?.(message),
      overflow: () => {
        const socket = this.#socket;
        if (socket && !this.#stopped) this.#giveUp(socket, "gap not filled");
      },
    });
    this.#heartbeat = new Heartbeat({
      everyMs: options.heartbeatMs ?? 25_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      lastSeq: () => this.#stream.lastSeq,
      current: (socket) => this.#socket === socket,
      dead: (socket) => this.#giveUp(socket, "pong timeout"),
    });
    this.#renewal = new Renewal(options.renew, () => this.#socket);
  }

  /**
   * Messages by seq, deduplicated: those held behind a gap, and in test mode
   * (`record`) also every message delivered.
   */
  get received(): ReadonlyMap<number, Message> {
    return this.#stream.received;
  }

  /** The seq up to which this client holds every message (from where it started). */
  get lastSeq(): number {
    return this.#stream.lastSeq;
  }

  /** The room's head when this client first connected; its stream starts after it. */
  get startSeq(): number {
    return this.#stream.startSeq;
  }

  /** Connects (and keeps reconnecting until {@link stop}); resolves once the first socket is opening. Only the first call counts. */
  start(): Promise<void> {
    if (this.#started || this.#stopped) return Promise.resolve();
    this.#started = true;
    this.#setState("connecting");
    return this.#connect();
  }

  /** Closes for good; sends still pending reject with a RoomClientError `stopped`. */
  stop(): void {
    this.#end(new RoomClientError("stopped", "the client was stopped"));
  }

  /** See {@link ConnectionState}. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Why the client closed for good when the server refused it (4401, 4403, a ticket refused); undefined otherwise. */
  get failure(): RoomClientError | undefined {
    return this.#failure;
  }

  /** Stops for good: timers, the socket, pending sends (rejected with `reason`), state `closed`. */
  #end(reason: RoomClientError): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (reason.code !== "stopped") this.#failure = reason;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#resendTimer);
    this.#detach()?.close(CLOSE.normal, "bye");
    this.#sends.rejectAll(reason);
    this.#setState("closed");
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#options.onState?.(state);
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

  /** True while a socket is open and welcomed (state `open`). */
  get connected(): boolean {
    return this.#state === "open" && this.#socket?.readyState === 1;
  }

  /**
   * Sends a message (a unique clientMsgId unless given); it is resent with the
   * same clientMsgId after reconnects until acknowledged. Resolves with the
   * seq it was stored under (a duplicate's first seq). Rejects with a
   * RoomClientError when the contract refuses it (`body_too_long`,
   * `bad_request`), or when the client stops or is refused for good with it
   * pending. Ignoring the promise is safe: it never rejects unhandled.
   */
  send(body: string, clientMsgId = `${this.#prefix}-${++this.#counter}`): Promise<number> {
    if (this.#stopped) return rejected(this.#failure ?? new RoomClientError("stopped", "the client was stopped"));
    // A message ends the "is typing" others show for this user, so the next
    // keystroke announces typing again instead of waiting out the throttle.
    this.#typingAt = -Infinity;
    const promise = this.#sends.add(clientMsgId, body);
    const pendingBody = this.pending.get(clientMsgId);
    if (pendingBody !== undefined) this.#transmit(clientMsgId, pendingBody);
    return promise;
  }

  #transmit(clientMsgId: string, body: string): void {
    // Not before the welcome: the welcome sends everything pending.
    if (this.connected) this.#socket?.send(JSON.stringify({ type: "send", clientMsgId, body }));
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const url = this.lastSeq >= 0 ? `${this.#options.url}?lastSeq=${this.lastSeq}` : this.#options.url;
    let socket: SocketLike;
    try {
      socket = await this.#options.open(url);
    } catch (error) {
      if (this.#stopped) return;
      if (error instanceof RoomcastApiError) {
        if (refusedForGood(error.status)) {
          this.#end(new RoomClientError(error.code, `refused: ${error.message}`, { cause: error }));
          return;
        }
        if (error.retryAfterMs !== undefined) this.#serverDelayMs = error.retryAfterMs;
      }
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
      this.#detach();
      const code = event.code ?? 0;
      this.#keep(this.closes, code);
      if (this.#stopped) return;
      if (code === CLOSE.forbidden || (code === CLOSE.unauthorized && !this.#options.retryUnauthorized)) {
        const reason = code === CLOSE.forbidden ? "forbidden" : "unauthorized";
        this.#end(new RoomClientError(reason, `the server closed the socket with ${code}`));
        return;
      }
      // A frame too big for the server: resending it would close every socket the same way.
      if (code === CLOSE.tooBig) this.#sends.refuseLargest();
      this.#retry();
    });
    socket.addEventListener("error", () => {});
  }

  #retry(): void {
    const { minMs, maxMs } = this.#options.backoff ?? { minMs: 250, maxMs: 10_000 };
    // After goaway: at least the server's delay, plus up to a fifth more.
    // Otherwise: exponential backoff with full jitter, anywhere in [0, ceiling).
    const delay =
      this.#serverDelayMs !== null
        ? goawayDelayMs(this.#serverDelayMs)
        : backoffMs(this.#attempt, { baseMs: minMs, maxMs, jitter: "full" });
    this.#serverDelayMs = null;
    this.#attempt += 1;
    this.#setState(this.connects > 0 ? "reconnecting" : "connecting");
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
        this.#stream.begin(frame.headSeq);
        this.#presence.clear();
        for (const user of frame.presence) this.#presence.set(user.userId, user);
        this.#options.onPresence?.({ event: "welcome", users: frame.presence }, this.#presence);
        this.#renewal.schedule();
        if (this.#socket) this.#heartbeat.start(this.#socket);
        this.#setState("open");
        for (const [id, body] of this.pending) this.#transmit(id, body);
        return;
      case "message":
        this.#stream.accept(frame);
        return;
      case "ack":
        if (this.#sends.ack(frame.clientMsgId, frame.seq)) this.#options.onAck?.(frame.clientMsgId, frame.seq);
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
        if (this.#options.history) void this.#stream.fill(frame.fromSeq - 1, this.#options.history);
        return;
      case "goaway": {
        this.#serverDelayMs = frame.retryAfterMs;
        // Reconnect after the server's delay without waiting for the close:
        // workerd may end the connection only when the room hibernates, 10 s
        // or more after the close frame (docs/guarantees.md).
        const socket = this.#detach();
        socket?.close(CLOSE.normal, "goaway");
        if (socket && !this.#stopped) this.#retry();
        return;
      }
      case "pong":
        this.#heartbeat.pong();
        return;
      case "error":
        // A send refused for good: the server's body limit is below ours.
        if (frame.code === "body_too_long") this.#sends.refuseTooLong(frame.message);
        // The frame was refused, not stored: send what is pending again soon.
        else if (frame.code === "overloaded" || frame.code === "rate_limited" || frame.code === "internal") this.#resendSoon();
        return;
      default:
        return;
    }
  }

  #resendSoon(): void {
    if (this.#resendTimer !== undefined) return;
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined;
      for (const [id, body] of this.pending) this.#transmit(id, body);
    }, 1000);
  }

  /** The current socket stops being this client's: no heartbeat or renewal on it. Returns it. */
  #detach(): SocketLike | null {
    const socket = this.#socket;
    this.#socket = null;
    this.#heartbeat.stop();
    this.#renewal.cancel();
    return socket;
  }

  /** Drops a socket that is no use (its close code is not counted) and reconnects. */
  #giveUp(socket: SocketLike, reason: string): void {
    this.#detach();
    socket.close(GAVE_UP, reason);
    this.#retry();
  }

  /** Appends to one of the counters, keeping only the newest {@link RECENT} entries outside test mode. */
  #keep(list: number[], value: number): void {
    keepRecent(list, value, this.#options.record ?? false);
  }
}
