// Helpers for tests that run inside workerd: real HTTP through the Worker's
// own entry point and real WebSockets to real room objects.
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { parseServerFrame, type ServerFrame, type User } from "../../protocol/index.ts";
import { roomStub } from "../../worker/rooms/access.ts";

const BASE = "http://roomcast.test";

/** A unique name per call, so that tests never share users or rooms. */
export function unique(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 12)}`;
}

/** Calls the Worker's `fetch` the way a client would. */
export function call(path: string, init: RequestInit & { token?: string; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(BASE + path, { ...init, headers, body }));
}

/** Registers and logs in a fresh user. */
export async function signUp(prefix = "user"): Promise<{ user: User; token: string; password: string }> {
  const username = unique(prefix).slice(0, 32);
  const password = "correct horse battery";
  const registered = await call("/auth/register", { method: "POST", json: { username, password } });
  if (registered.status !== 201) throw new Error(`register: ${registered.status} ${await registered.text()}`);
  const login = await call("/auth/login", { method: "POST", json: { username, password } });
  const body = (await login.json()) as { token: string; user: User };
  return { user: body.user, token: body.token, password };
}

/** Creates a room owned by the token's user. */
export async function createRoom(token: string, type: "public" | "private" = "public"): Promise<string> {
  const id = unique("room");
  const response = await call("/rooms", { method: "POST", token, json: { id, type } });
  if (response.status !== 201) throw new Error(`create room: ${response.status} ${await response.text()}`);
  return id;
}

/** A WebSocket client that records every frame it gets, parsed with the protocol's parser. */
export class Client {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly #waiters = new Set<() => void>();

  readonly ws: WebSocket;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      const parsed = parseServerFrame(String(event.data));
      if (!parsed.ok) throw new Error(`server sent a bad frame: ${parsed.message}`);
      this.frames.push(parsed.value);
      this.#wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.#wake();
    });
    ws.accept();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits until `check` holds for the frames received so far. */
  async until<T>(check: (frames: ServerFrame[]) => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = check(this.frames);
      if (result) return result;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.map((f) => f.type))}`);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#waiters.delete(done);
          resolve();
        };
        this.#waiters.add(done);
        setTimeout(done, 50);
      });
    }
  }

  /** The frames of one type, in arrival order. */
  of<K extends ServerFrame["type"]>(type: K): Extract<ServerFrame, { type: K }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: K }> => f.type === type);
  }

  /** Waits for `n` frames of a type. */
  async waitFor<K extends ServerFrame["type"]>(type: K, n = 1, timeoutMs = 5000): Promise<Extract<ServerFrame, { type: K }>[]> {
    return this.until((_) => (this.of(type).length >= n ? this.of(type) : undefined), `${n} ${type} frame(s)`, timeoutMs);
  }

  /** Waits for the close event. */
  async waitClose(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed ?? undefined, "close", timeoutMs);
  }

  close(): void {
    try {
      this.ws.close(1000, "bye");
    } catch {
      // already closed
    }
  }
}

/** The headers of a WebSocket handshake as a client sends them (RFC 6455's sample key). */
export const UPGRADE_HEADERS = { Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==" };

/** Opens a WebSocket to a room; throws with the HTTP answer when the upgrade is refused. */
export async function connect(roomId: string, token: string, query = ""): Promise<Client> {
  const response = await call(`/rooms/${roomId}/ws${query}`, { token, headers: UPGRADE_HEADERS });
  if (response.status !== 101 || !response.webSocket) {
    throw new Error(`upgrade refused: ${response.status} ${await response.text()}`);
  }
  return new Client(response.webSocket);
}

/** The room's Durable Object, reached the way the Worker reaches it. */
export function stubOf(roomId: string) {
  return roomStub(env, roomId);
}

/** Runs the room's alarm until its outbox is empty (every message copied to PostgreSQL). */
export async function drainOutbox(roomId: string): Promise<void> {
  const stub = stubOf(roomId);
  while ((await stub.outboxDepth()) > 0) await runDurableObjectAlarm(stub);
}
