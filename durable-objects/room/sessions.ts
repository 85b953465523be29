import { encodeServerFrame, type PresenceUser, type ServerFrame, type User } from "../../protocol/index.ts";

/** What each hibernatable socket carries across evictions. */
export interface Attachment {
  user: User;
  /** Token expiry, seconds since the epoch. */
  exp: number;
  connectedAt: number;
}

/** The tag that groups the sockets (tabs) of one user. */
export function userTag(userId: string): string {
  return `user:${userId}`;
}

/** Reads a socket's attachment; null for a socket without one. */
export function attachmentOf(ws: WebSocket): Attachment | null {
  const value: unknown = ws.deserializeAttachment();
  if (typeof value !== "object" || value === null || !("user" in value)) return null;
  return value as Attachment;
}

/** True while a socket can still be written to. */
function isOpen(ws: WebSocket): boolean {
  return ws.readyState === WebSocket.READY_STATE_OPEN;
}

/**
 * The sockets this room holds and the presence derived from them. A thin view
 * over `ctx.getWebSockets()`, so it is right after the object hibernates.
 */
export class Sessions {
  readonly #ctx: DurableObjectState;

  constructor(ctx: DurableObjectState) {
    this.#ctx = ctx;
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
      const attachment = attachmentOf(ws);
      if (attachment && !seen.has(attachment.user.id)) {
        seen.set(attachment.user.id, { userId: attachment.user.id, username: attachment.user.username });
      }
    }
    return [...seen.values()];
  }

  /** Sends a frame to every open socket except `exclude`; a socket that fails is skipped. */
  broadcast(frame: ServerFrame, exclude?: WebSocket): void {
    const text = encodeServerFrame(frame);
    for (const ws of this.open(undefined, exclude)) sendText(ws, text);
  }
}

/** Sends one frame; a socket closing under us is not an error of the room. */
export function send(ws: WebSocket, frame: ServerFrame): void {
  sendText(ws, encodeServerFrame(frame));
}

function sendText(ws: WebSocket, text: string): void {
  try {
    ws.send(text);
  } catch {
    // The peer is gone; webSocketClose will account for it.
  }
}

/** Closes a socket with a reason of at most 123 bytes; ignores one already closed. */
export function close(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}
