// What both baselines answer: the few HTTP routes the load test's setup
// calls, and the frames of protocol/ that its virtual users read. No auth,
// no persistence, no parsing beyond JSON.parse: the baselines measure the
// ceiling of a runtime, not a product. Types come from protocol/ (type-only
// imports, so the Durable Object baseline bundles without zod).
import type { LoginResponse, Room, ServerFrame, User } from "../../protocol/index.ts";

/** An answer to one of the setup routes, or null for a route the baselines do not have. */
export function setupAnswer(method: string, path: string, body: unknown): { status: number; json?: unknown } | null {
  if (method === "GET" && (path === "/healthz" || path === "/readyz")) return { status: 200, json: { status: "ok" } };
  if (method !== "POST") return null;
  if (path === "/auth/register") return { status: 201, json: { user: userOf(body) } };
  if (path === "/auth/login") {
    const login: LoginResponse = { token: "baseline", expiresAt: new Date(Date.now() + 3_600_000).toISOString(), user: userOf(body) };
    return { status: 200, json: login };
  }
  if (path === "/rooms") return { status: 201, json: { room: roomOf(String((body as { id?: unknown }).id ?? "room")) } };
  if (/^\/rooms\/[^/]+\/members$/.test(path)) return { status: 204 };
  return null;
}

function userOf(body: unknown): User {
  const username = String((body as { username?: unknown }).username ?? "user");
  return { id: username, username };
}

export function roomOf(id: string): Room {
  return { id, name: id, type: "public", createdAt: "2026-01-01T00:00:00.000Z" };
}

/** The room id of `/rooms/:id/ws`, or null. */
export function wsRoom(path: string): string | null {
  return /^\/rooms\/([^/]+)\/ws$/.exec(path)?.[1] ?? null;
}

/** One room's order and its frames. */
export class BaselineRoom {
  seq = 0;
  readonly #id: string;
  #user = 0;

  constructor(id: string) {
    this.#id = id;
  }

  welcome(): string {
    const id = `u${++this.#user}`;
    return frame({ type: "welcome", room: roomOf(this.#id), user: { id, username: id }, headSeq: this.seq, presence: [] });
  }

  /**
   * A client frame: for `send`, the message to broadcast (the sender's
   * included) and the ack for the sender; for `ping`, a pong.
   */
  receive(raw: string): { broadcast?: string; reply?: string } {
    const data = JSON.parse(raw) as { type?: unknown; clientMsgId?: unknown; body?: unknown };
    if (data.type === "ping") return { reply: frame({ type: "pong" }) };
    if (data.type !== "send" || typeof data.clientMsgId !== "string" || typeof data.body !== "string") return {};
    const seq = ++this.seq;
    const createdAt = new Date().toISOString();
    return {
      broadcast: frame({
        type: "message",
        seq,
        id: `${this.#id}-${seq}`,
        roomId: this.#id,
        userId: "u",
        username: "u",
        body: data.body,
        clientMsgId: data.clientMsgId,
        createdAt,
      }),
      reply: frame({ type: "ack", clientMsgId: data.clientMsgId, seq }),
    };
  }
}

function frame(value: ServerFrame): string {
  return JSON.stringify(value);
}
