import { CLOSE, encodeServerFrame, type PresenceUser, type ServerFrame, type User } from "../../protocol/index.ts";

/** What each hibernatable socket carries across evictions. */
export interface Attachment {
  user: User;
  /** Token expiry, seconds since the epoch. */
  exp: number;
  connectedAt: number;
}

/** What the room writes to: a hibernatable WebSocket, or a unit test's recording socket. */
export interface Socket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** The tag that groups the sockets (tabs) of one user. */
export function userTag(userId: string): string {
  return `user:${userId}`;
}

function readAttachment(ws: WebSocket): Attachment | null {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== "object" || value === null || !("user" in value) || !("exp" in value)) return null;
  return value as Attachment;
}

/** True while a socket can still be written to. */
function isOpen(ws: WebSocket): boolean {
  return ws.readyState === WebSocket.READY_STATE_OPEN;
}

/** Limits the room enforces on every socket it writes to. */
export interface SendLimits {
  /** Grace after the token's `exp` before the socket is closed 4401. */
  authGraceMs: number;
  /** Bytes queued to one socket before it is closed 4001. */
  sendBufferMaxBytes: number;
  /** Messages one socket may be behind (by its receipts, or held during its resume) before it is closed 4001. */
  slowConsumerLag: number;
  /** Spread of the delay a `goaway` asks for, on top of {@link GOAWAY_MIN_MS}. */
  reconnectSpreadMs: number;
}

/** The least delay a `goaway` asks for. */
const GOAWAY_MIN_MS = 1000;

const SLOW_CONSUMER = "slow consumer; reconnect and resume";

/**
 * The sockets this room holds and the presence derived from them. A thin view
 * over `ctx.getWebSockets()`, so it is right after the object hibernates;
 * attachments are cached in memory once read.
 */
export class Sessions {
  readonly #ctx: DurableObjectState;
  readonly #limits: SendLimits;
  readonly #attachments = new WeakMap<WebSocket, Attachment>();
  readonly #held = new Map<WebSocket, ServerFrame[]>();

  constructor(ctx: DurableObjectState, limits: SendLimits) {
    this.#ctx = ctx;
    this.#limits = limits;
  }

  /** A socket's identity and token expiry; null for a socket without one. */
  attachment(ws: WebSocket): Attachment | null {
    let attachment = this.#attachments.get(ws);
    if (!attachment) {
      attachment = readAttachment(ws) ?? undefined;
      if (attachment) this.#attachments.set(ws, attachment);
    }
    return attachment ?? null;
  }

  /** Stores a socket's attachment durably (it survives hibernation) and in memory. */
  attach(ws: WebSocket, attachment: Attachment): void {
    ws.serializeAttachment(attachment);
    this.#attachments.set(ws, attachment);
  }

  /** Open sockets, optionally of one user, except `exclude`. */
  open(userId?: string, exclude?: WebSocket): WebSocket[] {
    const all = userId === undefined ? this.#ctx.getWebSockets() : this.#ctx.getWebSockets(userTag(userId));
    return all.filter((ws) => ws !== exclude && isOpen(ws));
  }

  /** One entry per user with at least one open socket, in order of arrival. */
  presence(): PresenceUser[] {
    const seen = new Map<string, PresenceUser>();
    for (const ws of this.open()) {
      const attachment = this.attachment(ws);
      if (attachment && !seen.has(attachment.user.id)) {
        seen.set(attachment.user.id, { userId: attachment.user.id, username: attachment.user.username });
      }
    }
    return [...seen.values()];
  }

  /** When the next socket's token runs out (ms since the epoch, grace included); null with no sockets. */
  nextExpiry(): number | null {
    let next: number | null = null;
    for (const ws of this.open()) {
      const attachment = this.attachment(ws);
      if (!attachment) continue;
      const due = attachment.exp * 1000 + this.#limits.authGraceMs;
      if (next === null || due < next) next = due;
    }
    return next;
  }

  /** Closes 4401 every socket whose token ran out more than the grace ago. Returns how many. */
  /** Tells a client to reconnect after a jittered delay, so that clients do not all come back at once, and closes it. */
  goaway(ws: WebSocket, code: number, reason: string): void {
    const retryAfterMs = GOAWAY_MIN_MS + Math.floor(Math.random() * this.#limits.reconnectSpreadMs);
    send(ws, { type: "goaway", retryAfterMs });
    close(ws, code, reason);
  }

  closeExpired(now: number): number {
    let closed = 0;
    for (const ws of this.open()) {
      if (this.#expired(ws, now)) {
        close(ws, CLOSE.unauthorized, "token expired");
        closed += 1;
      }
    }
    return closed;
  }

  /**
   * Sends a frame to every open socket except `exclude`. A socket whose token
   * ran out gets nothing more (it is closed 4401); one that cannot keep up is
   * closed 4001 so that the room's memory stays bounded. Returns deliveries.
   */
  broadcast(frame: ServerFrame, exclude?: WebSocket): number {
    const text = encodeServerFrame(frame);
    const now = Date.now();
    let delivered = 0;
    for (const ws of this.open(undefined, exclude)) {
      if (this.#expired(ws, now)) {
        close(ws, CLOSE.unauthorized, "token expired");
        continue;
      }
      const held = this.#held.get(ws);
      if (held) {
        if (held.length >= this.#limits.slowConsumerLag) close(ws, CLOSE.slowConsumer, SLOW_CONSUMER);
        else held.push(frame);
        continue;
      }
      if (this.deliver(ws, text)) delivered += 1;
    }
    return delivered;
  }

  /** Sends text to one socket unless its send buffer is over budget, in which case it is closed 4001. */
  deliver(ws: WebSocket, text: string): boolean {
    if (ws.bufferedAmount > this.#limits.sendBufferMaxBytes) {
      close(ws, CLOSE.slowConsumer, SLOW_CONSUMER);
      return false;
    }
    return sendText(ws, text);
  }

  /**
   * A read receipt (`ping` with `lastSeq`): a socket that has read less than
   * the room's head minus the lag budget is closed 4001, because the runtime
   * queues what it cannot write natively and out of the room's sight. A socket
   * whose resume is still being read is judged by its held frames instead.
   * Returns false when the socket was closed.
   */
  receipt(ws: WebSocket, lastSeq: number, head: number): boolean {
    if (this.#held.has(ws) || head - lastSeq <= this.#limits.slowConsumerLag) return true;
    close(ws, CLOSE.slowConsumer, SLOW_CONSUMER);
    return false;
  }

  /** Holds broadcasts to `ws` until {@link release}, while a resume for it is read. */
  hold(ws: WebSocket): void {
    if (!this.#held.has(ws)) this.#held.set(ws, []);
  }

  /** Stops holding and returns what was held, in order. */
  release(ws: WebSocket): ServerFrame[] {
    const held = this.#held.get(ws) ?? [];
    this.#held.delete(ws);
    return held;
  }

  #expired(ws: WebSocket, now: number): boolean {
    const attachment = this.attachment(ws);
    return attachment !== null && now > attachment.exp * 1000 + this.#limits.authGraceMs;
  }
}

/** Sends one frame; a socket closing under us is not an error of the room. */
export function send(ws: Socket, frame: ServerFrame): void {
  sendText(ws, encodeServerFrame(frame));
}

function sendText(ws: Socket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    // The peer is gone; webSocketClose will account for it.
    return false;
  }
}

/**
 * The code a room answers a client's close with: the client's own when a peer
 * may send it (RFC 6455 7.4: 1000–1003, 1007–1014, 3000–4999), 1000 for the
 * reserved 1005 and 1006 (no code, connection lost), and 1002 (protocol
 * error) for any other, which workerd refuses to send back: echoed, the
 * client got no close frame and waited for workerd to drop it ~10 s later
 * (found by test/security/sockets.test.ts).
 */
export function closeReply(code: number): number {
  if (code === 1005 || code === 1006) return CLOSE.normal;
  const sendable = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
  return sendable ? code : 1002;
}

/** Closes a socket with a reason of at most 123 bytes; ignores one already closed. */
export function close(ws: Socket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}
