// The client's heartbeat on one open socket: a ping every `everyMs`, with a
// read receipt (`lastSeq`) when it moved and on every fourth beat, and the
// socket given up when no pong comes within `pongTimeoutMs`.
import type { SocketLike } from "./options.ts";

export interface HeartbeatOptions {
  everyMs: number;
  pongTimeoutMs: number;
  /** The seq the client holds everything up to (the read receipt). */
  lastSeq: () => number;
  /** Whether `socket` is still the client's current one. */
  current: (socket: SocketLike) => boolean;
  /** No pong in time: the connection is dead or the server is stuck. */
  dead: (socket: SocketLike) => void;
}

export class Heartbeat {
  readonly #options: HeartbeatOptions;
  #interval: ReturnType<typeof setInterval> | undefined;
  #pongTimer: ReturnType<typeof setTimeout> | undefined;
  #beats = 0;
  #receiptSeq = -1;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
  }

  /** Beats on `socket` (stopping any earlier beat); nothing when `everyMs` is 0 or less. */
  start(socket: SocketLike): void {
    this.stop();
    const { everyMs, pongTimeoutMs, lastSeq, current, dead } = this.#options;
    if (everyMs <= 0) return;
    this.#interval = setInterval(() => {
      if (!current(socket) || socket.readyState !== 1) return;
      this.#beats += 1;
      const seq = lastSeq();
      const receipt = seq !== this.#receiptSeq || this.#beats % 4 === 0;
      // The plain ping must be this exact text for the runtime's auto-response.
      socket.send(receipt ? JSON.stringify({ type: "ping", lastSeq: seq }) : '{"type":"ping"}');
      if (receipt) this.#receiptSeq = seq;
      if (this.#pongTimer !== undefined) return;
      this.#pongTimer = setTimeout(() => {
        this.#pongTimer = undefined;
        if (current(socket)) dead(socket);
      }, pongTimeoutMs);
    }, everyMs);
  }

  /** A pong came: the connection is alive. */
  pong(): void {
    clearTimeout(this.#pongTimer);
    this.#pongTimer = undefined;
  }

  stop(): void {
    clearInterval(this.#interval);
    clearTimeout(this.#pongTimer);
    this.#interval = undefined;
    this.#pongTimer = undefined;
  }
}
