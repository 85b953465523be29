// A Node client for end-to-end tests: real HTTP with fetch, real WebSockets with `ws`.
import WebSocket from "ws";
import { parseServerFrame, type ServerFrame } from "../../protocol/index.ts";

/** HTTP JSON call against a running server. */
export async function http(
  base: string,
  path: string,
  init: { method?: string; token?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(base + path, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null, headers: response.headers };
}

/** An upgrade the server answered with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  constructor(status: number, headers: Record<string, string | string[] | undefined>, body: string) {
    super(`upgrade refused: ${status} ${body}`);
    this.status = status;
    this.headers = headers;
    this.body = body;
  }
}

/** A WebSocket peer that records parsed frames. */
export class Peer {
  readonly frames: ServerFrame[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly ws: WebSocket;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on("message", (data: Buffer) => {
      const parsed = parseServerFrame(data.toString("utf8"));
      if (!parsed.ok) throw new Error(`bad server frame: ${parsed.message}`);
      this.frames.push(parsed.value);
    });
    ws.on("close", (code: number, reason: Buffer) => {
      this.closed = { code, reason: reason.toString() };
    });
  }

  /** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<Peer> {
    return new Promise((resolve, reject) => {
      // After the closing handshake, ws waits for the server to end the TCP
      // connection, 30 s by default, before it emits "close". workerd may keep
      // it open until the room's work in flight ends (a read held by a lock,
      // hibernation), so "close" comes 3 s after the close frame at most.
      const options: WebSocket.ClientOptions & { closeTimeout: number } = { headers, closeTimeout: 3000 };
      const ws = new WebSocket(url, options);
      const peer = new Peer(ws);
      ws.once("open", () => resolve(peer));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body)));
      });
      ws.once("error", reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  of<K extends ServerFrame["type"]>(type: K): Extract<ServerFrame, { type: K }>[] {
    return this.frames.filter((f): f is Extract<ServerFrame, { type: K }> => f.type === type);
  }

  /** Waits for `n` frames of a type. */
  async waitFor<K extends ServerFrame["type"]>(type: K, n = 1, timeoutMs = 10_000): Promise<Extract<ServerFrame, { type: K }>[]> {
    await waitUntil(() => this.of(type).length >= n, `${n} ${type} frame(s)`, timeoutMs);
    return this.of(type);
  }

  close(): void {
    this.ws.close(1000);
  }
}

/** The refusal of an upgrade that must be refused; throws if it was accepted. */
export async function refusalOf(attempt: Promise<Peer>): Promise<UpgradeRefused> {
  const outcome = await attempt.then(
    (peer) => peer,
    (error: unknown) => error,
  );
  if (outcome instanceof UpgradeRefused) return outcome;
  if (outcome instanceof Peer) {
    outcome.close();
    throw new Error("the upgrade was accepted");
  }
  throw outcome;
}

/** Polls `check` until it holds. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
