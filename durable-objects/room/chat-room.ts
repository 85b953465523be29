import { DurableObject } from "cloudflare:workers";
import {
  CLOSE,
  parseClientFrame,
  type ClientFrame,
  type Message,
  type PublishRequest,
  type Room,
  type User,
} from "../../protocol/index.ts";
import { createSql, type Sql } from "../../sql/db.ts";
import { signingKey, verifyToken } from "../../worker/auth/jwt.ts";
import { readConfig, type Config } from "../../worker/config.ts";
import { readHandoff } from "./handoff.ts";
import { FLUSH_DELAY_MS, flushOutbox } from "./outbox.ts";
import { MAX_STRIKES, newBucket, take, type TokenBucket } from "./rate-limit.ts";
import { attachmentOf, close, send, Sessions, userTag, type Attachment } from "./sessions.ts";
import { RoomStore } from "./storage.ts";

/** Messages replayed per resume before the client is told to page through history. */
export const RESUME_MAX = 1000;
const RESUME_PAGE = 200;
const NO_DATABASE_RETRY_MS = 60_000;

/** A history query the room answers from its log. */
export interface HistoryRange {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/**
 * One chat room: holds its WebSockets (Hibernation API), orders messages with
 * a gapless `seq`, stores them in its SQLite before anyone sees them, and
 * copies them to PostgreSQL from an outbox driven by its alarm.
 * Entry points decode and dispatch; the work is in the small methods below.
 */
export class ChatRoom extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: RoomStore;
  readonly #sessions: Sessions;
  // In memory only: a bucket starts full again after the object wakes up.
  readonly #buckets = new WeakMap<WebSocket, TokenBucket>();
  #pg: Sql | undefined;
  #alarmSet = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#store = new RoomStore(ctx.storage);
    this.#sessions = new Sessions(ctx);
    // Pings are answered by the runtime without waking a hibernated room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  /** The WebSocket upgrade, forwarded by the Worker with the identity it verified. */
  override async fetch(request: Request): Promise<Response> {
    const parsed = readHandoff(request);
    if (!parsed || request.headers.get("Upgrade") !== "websocket") {
      return new Response("room: expected a WebSocket handoff from the Worker", { status: 400 });
    }
    const { handoff, lastSeq } = parsed;
    this.#store.saveRoom(handoff.room);
    const firstTab = this.#sessions.open(handoff.user.id).length === 0;

    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [userTag(handoff.user.id)]);
    const attachment: Attachment = { user: handoff.user, exp: handoff.exp, connectedAt: Date.now() };
    server.serializeAttachment(attachment);

    send(server, {
      type: "welcome",
      room: handoff.room,
      user: handoff.user,
      headSeq: this.#store.head,
      presence: this.#sessions.presence(),
    });
    if (firstTab) this.#broadcastPresence("join", handoff.user, server);
    if (lastSeq !== undefined) this.#replay(server, handoff.room.id, lastSeq);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") {
      close(ws, CLOSE.unsupportedData, "binary frames are not supported");
      return;
    }
    if (utf8Length(message, this.#config.maxFrameBytes) > this.#config.maxFrameBytes) {
      close(ws, CLOSE.tooBig, `frame larger than ${this.#config.maxFrameBytes} bytes`);
      return;
    }
    const attachment = attachmentOf(ws);
    const room = this.#store.room;
    if (!attachment || !room) {
      close(ws, CLOSE.internal, "session state lost");
      return;
    }
    if (!this.#allow(ws)) return;
    const parsed = parseClientFrame(message, this.#config);
    if (!parsed.ok) {
      send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    try {
      await this.#dispatch(ws, attachment, room, parsed.value);
    } catch (error) {
      // A bug or a storage failure: the frame was not applied (no ack), the
      // socket stays usable, and nothing internal reaches the client.
      console.error(`room ${room.id}: ${parsed.value.type} failed: ${error instanceof Error ? error.message : String(error)}`);
      send(ws, { type: "error", code: "internal", message: "internal error; retry" });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    // 1005/1006 are reserved and cannot be sent back; answer them with 1000.
    close(ws, code === 1005 || code === 1006 ? CLOSE.normal : code, "closing");
    this.#left(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#left(ws);
  }

  /** Copies the outbox to PostgreSQL, one batch per run, rescheduling until it is empty. */
  override async alarm(): Promise<void> {
    this.#alarmSet = false;
    const room = this.#store.room;
    if (!room || this.#store.outboxDepth === 0) return;
    const pg = this.#database();
    if (!pg) {
      await this.#schedule(NO_DATABASE_RETRY_MS);
      return;
    }
    const result = await flushOutbox(this.#store, pg, room.id, this.#config.outboxBatchSize);
    if (result.ok) {
      if (result.remaining > 0) await this.#schedule(0);
      return;
    }
    console.error(`room ${room.id}: outbox copy failed (${result.failures} in a row): ${result.error}`);
    await this.#schedule(result.retryInMs);
  }

  /** RPC: a message published over REST; the same path, order and dedupe as a WebSocket send. */
  async publish(room: Room, user: User, input: PublishRequest): Promise<{ message: Message; duplicate: boolean }> {
    this.#store.saveRoom(room);
    return this.#accept(room.id, user, input.clientMsgId, input.body);
  }

  /** RPC: a page of history from the room's log, ascending. */
  async history(room: Room, range: HistoryRange): Promise<Message[]> {
    this.#store.saveRoom(room);
    if (range.after !== undefined) {
      return this.#store.range(room.id, range.after, Number.MAX_SAFE_INTEGER, range.limit);
    }
    return this.#store.latest(room.id, range.before ?? Number.MAX_SAFE_INTEGER, range.limit);
  }

  /** RPC for tests and operators: messages not yet copied to PostgreSQL. */
  async outboxDepth(): Promise<number> {
    return this.#store.outboxDepth;
  }

  async #dispatch(ws: WebSocket, attachment: Attachment, room: Room, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "send": {
        // A duplicate is acked with the seq it was first stored under.
        const { message } = this.#accept(room.id, attachment.user, frame.clientMsgId, frame.body);
        send(ws, { type: "ack", clientMsgId: frame.clientMsgId, seq: message.seq });
        return;
      }
      case "resume":
        this.#replay(ws, room.id, frame.lastSeq);
        return;
      case "typing": {
        const user = { userId: attachment.user.id, username: attachment.user.username };
        for (const other of this.#sessions.open()) {
          if (attachmentOf(other)?.user.id !== attachment.user.id) send(other, { type: "typing", user });
        }
        return;
      }
      case "ping":
        send(ws, { type: "pong" });
        return;
      case "auth":
        await this.#reauthenticate(ws, attachment, frame.token);
        return;
    }
  }

  /**
   * Stores a message (or finds the one this user already sent with this
   * client id) and broadcasts a new one. The SQLite write happens before the
   * broadcast, and the output gate holds every frame until it is durable.
   */
  #accept(roomId: string, user: User, clientMsgId: string, body: string): { message: Message; duplicate: boolean } {
    const existing = this.#store.findByClientMsgId(roomId, user.id, clientMsgId);
    if (existing) return { message: existing, duplicate: true };
    const message = this.#store.append(roomId, user, clientMsgId, body);
    this.#sessions.broadcast({ type: "message", ...message });
    void this.#schedule(FLUSH_DELAY_MS);
    return { message, duplicate: false };
  }

  /** Sends what a reconnecting client missed after `lastSeq`, up to {@link RESUME_MAX}. */
  #replay(ws: WebSocket, roomId: string, lastSeq: number): void {
    const head = this.#store.head;
    if (lastSeq > head) {
      // The client saw seqs this room does not have: its view cannot be trusted.
      send(ws, { type: "resync_required", fromSeq: head + 1 });
      return;
    }
    let cursor = lastSeq;
    while (cursor < head && cursor - lastSeq < RESUME_MAX) {
      const page = this.#store.range(roomId, cursor, Number.MAX_SAFE_INTEGER, Math.min(RESUME_PAGE, RESUME_MAX - (cursor - lastSeq)));
      if (page.length === 0) break;
      for (const message of page) send(ws, { type: "message", ...message });
      cursor = page[page.length - 1]?.seq ?? head;
    }
    if (cursor < head) send(ws, { type: "resync_required", fromSeq: cursor + 1 });
  }

  async #reauthenticate(ws: WebSocket, attachment: Attachment, token: string): Promise<void> {
    const verified = await verifyToken(token, signingKey(this.env, this.#config), this.#config);
    if (!verified.ok || verified.identity.user.id !== attachment.user.id) {
      send(ws, { type: "error", code: "unauthorized", message: "token refused" });
      return;
    }
    ws.serializeAttachment({ ...attachment, exp: verified.identity.exp } satisfies Attachment);
  }

  /** Applies the per-socket rate limit; closes with 4429 when the client keeps pushing. */
  #allow(ws: WebSocket): boolean {
    const now = Date.now();
    let bucket = this.#buckets.get(ws);
    if (!bucket) {
      bucket = newBucket(this.#config.rateLimitBurst, now);
      this.#buckets.set(ws, bucket);
    }
    const limits = { perSecond: this.#config.rateLimitPerSecond, burst: this.#config.rateLimitBurst };
    if (take(bucket, limits, now)) return true;
    if (bucket.strikes >= MAX_STRIKES) {
      close(ws, CLOSE.rateLimited, "rate limit exceeded");
    } else {
      send(ws, { type: "error", code: "rate_limited", message: "slow down" });
    }
    return false;
  }

  #left(ws: WebSocket): void {
    const attachment = attachmentOf(ws);
    if (!attachment) return;
    if (this.#sessions.open(attachment.user.id, ws).length === 0) {
      this.#broadcastPresence("leave", attachment.user, ws);
    }
  }

  #broadcastPresence(event: "join" | "leave", user: User, exclude: WebSocket): void {
    this.#sessions.broadcast(
      { type: "presence", event, user: { userId: user.id, username: user.username } },
      exclude,
    );
  }

  async #schedule(delayMs: number): Promise<void> {
    if (this.#alarmSet && delayMs > 0) return;
    this.#alarmSet = true;
    const current = await this.ctx.storage.getAlarm();
    const at = Date.now() + delayMs;
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  #database(): Sql | undefined {
    if (!this.#pg && this.#config.databaseUrl) this.#pg = createSql(this.#config.databaseUrl);
    return this.#pg;
  }
}

/** UTF-8 length of `text`, counting only as far as needed to exceed `limit`. */
function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  return new TextEncoder().encode(text).byteLength;
}
