import { CLOSE, type ClientFrame, type Room } from "../../protocol/index.ts";
import type { TokenCheck } from "../../core/tokens.ts";
import type { Committer } from "./committer.ts";
import { send, type Attachment, type Socket } from "./sessions.ts";

/** The sockets of the room, as the handlers see them. */
export interface SocketView<S extends Socket> {
  open(userId?: string, exclude?: S): S[];
  attachment(ws: S): Attachment | null;
  attach(ws: S, attachment: Attachment): void;
  /** A read receipt; false when the socket was closed for lagging. */
  receipt(ws: S, lastSeq: number, head: number): boolean;
}

/** What the frame handlers work with. */
export interface HandlerParts<S extends Socket> {
  sockets: SocketView<S>;
  committer: Pick<Committer, "accept" | "visibleHead">;
  /** Sends what a client missed after `lastSeq` (replay.ts). */
  replay(ws: S, lastSeq: number): Promise<void>;
  verify(token: string): Promise<TokenCheck>;
  /** Tells a client to reconnect after a jittered delay, and closes it. */
  goaway(ws: S, code: number, reason: string): void;
}

/** Handles one admitted frame (guards.ts) from `ws`. */
export async function handleFrame<S extends Socket>(
  parts: HandlerParts<S>,
  ws: S,
  attachment: Attachment,
  room: Room,
  frame: ClientFrame,
): Promise<void> {
  switch (frame.type) {
    case "send":
      return onSend(parts, ws, attachment, room, frame.clientMsgId, frame.body);
    case "resume":
      return parts.replay(ws, frame.lastSeq);
    case "typing":
      return onTyping(parts, attachment);
    case "ping":
      if (frame.lastSeq === undefined || parts.sockets.receipt(ws, frame.lastSeq, parts.committer.visibleHead()))
        send(ws, { type: "pong" });
      return;
    case "auth":
      return onAuth(parts, ws, attachment, frame.token);
  }
}

/** A message: acked with its seq once the committer says so (a duplicate with the seq it was first stored under). */
async function onSend<S extends Socket>(
  parts: HandlerParts<S>,
  ws: S,
  attachment: Attachment,
  room: Room,
  clientMsgId: string,
  body: string,
): Promise<void> {
  const outcome = await parts.committer.accept(room, attachment.user, clientMsgId, body);
  switch (outcome.kind) {
    case "stored":
    case "duplicate":
      send(ws, { type: "ack", clientMsgId, seq: outcome.kind === "stored" ? outcome.message.seq : outcome.seq });
      return;
    case "overloaded":
      send(ws, { type: "error", code: "overloaded", message: "room cannot take messages now; retry later" });
      return;
    case "unavailable":
      send(ws, { type: "error", code: "overloaded", message: "message not stored (database unavailable); retry" });
      return;
    case "moved":
      // Another process owns the room now: reconnect, nginx sends the client there.
      parts.goaway(ws, CLOSE.serviceRestart, "room moved to another process");
      return;
  }
}

/** Typing: to every socket of the other users, never stored. */
function onTyping<S extends Socket>(parts: HandlerParts<S>, attachment: Attachment): void {
  const user = { userId: attachment.user.id, username: attachment.user.username };
  for (const other of parts.sockets.open()) {
    if (parts.sockets.attachment(other)?.user.id !== attachment.user.id) send(other, { type: "typing", user });
  }
}

/** A fresh token for the same user extends the socket's life; anything else is refused and changes nothing. */
async function onAuth<S extends Socket>(parts: HandlerParts<S>, ws: S, attachment: Attachment, token: string): Promise<void> {
  const verified = await parts.verify(token);
  if (!verified.ok || verified.identity.user.id !== attachment.user.id) {
    send(ws, { type: "error", code: "unauthorized", message: "token refused" });
    return;
  }
  parts.sockets.attach(ws, { ...attachment, exp: verified.identity.exp });
}
