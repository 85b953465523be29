// For the client's unit tests, not part of the package (the build starts from
// index.ts): a fake WebSocket through which a test plays the server, and
// frames to play.
import type { ServerFrame } from "../protocol/frames.ts";
import type { Message, PresenceUser } from "../protocol/model.ts";
import type { SocketLike } from "./room-client.ts";

type Listener = (event: { data?: unknown; code?: number }) => void;

/** A fake WebSocket: no network; the test plays the server through it. Every instance is listed in `FakeWebSocket.opened`. */
export class FakeWebSocket implements SocketLike {
  static readonly opened: FakeWebSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: number | undefined;
  readonly #listeners = new Map<string, Listener[]>();

  readonly url: string;

  constructor(url: string) {
    this.url = url;
    FakeWebSocket.opened.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("fake socket not open");
    this.sent.push(data);
  }

  close(code?: number): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 2;
    // As a real socket, the close event comes later.
    queueMicrotask(() => this.serverClose(code ?? 1005));
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  /** The frames the client sent, parsed. */
  frames(): { type: string; [key: string]: unknown }[] {
    return this.sent.map((raw) => JSON.parse(raw) as { type: string });
  }

  serverOpen(): void {
    this.readyState = 1;
    this.#emit("open", {});
  }

  serverSend(frame: ServerFrame): void {
    this.#emit("message", { data: JSON.stringify(frame) });
  }

  serverClose(code: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#emit("close", { code });
  }

  #emit(type: string, event: { data?: unknown; code?: number }): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }
}

export const alice: PresenceUser = { userId: "u-alice", username: "alice" };
export const bob: PresenceUser = { userId: "u-bob", username: "bob" };
export const carol: PresenceUser = { userId: "u-carol", username: "carol" };

/** The `welcome` of room `lobby` to alice. */
export function welcome(headSeq: number, presence: PresenceUser[] = [alice]): ServerFrame {
  return {
    type: "welcome",
    room: { id: "lobby", name: "Lobby", type: "public", createdAt: "2026-01-01T00:00:00.000Z" },
    user: { id: alice.userId, username: alice.username },
    headSeq,
    presence,
  };
}

/** Bob's message number `seq` in room `lobby`. */
export function message(seq: number): Message {
  return {
    seq,
    id: `m${seq}`,
    roomId: "lobby",
    userId: bob.userId,
    username: bob.username,
    body: `body ${seq}`,
    clientMsgId: `c${seq}`,
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}
