import { DurableObject } from "cloudflare:workers";
import {
  CLOSE,
  encodeServerFrame,
  parseClientFrame,
  type ClientFrame,
  type HttpErrorCode,
  type Message,
  type PublishRequest,
  type Room,
  type User,
} from "../../protocol/index.ts";
import { withTimeout } from "../../sql/db.ts";
import type { Lease } from "../../sql/queries.ts";
import type { LeaseEvent } from "../database/lease-keeper.ts";
import type { ClaimResult, Database } from "../database/database.ts";
import { databaseFor } from "../database/shard.ts";
import { signingKey, verifyToken } from "../../core/tokens.ts";
import { readConfig, type Config } from "../../core/config.ts";
import { reportError } from "../../core/sentry.ts";
import { logDebug } from "../../core/log.ts";
import { countTokenCheck, metrics } from "../../metrics-bridge/registry.ts";
import { reportRoom, scheduleReport } from "../../metrics-bridge/report.ts";
import { openSockets, reportRoomSockets } from "./capacity.ts";
import { readHandoff } from "./handoff.ts";
import { ArchiveUnavailable, readAfter, readBefore, type Archive } from "./history.ts";
import { deferOutbox, flushOutbox, outboxBackingOff, outboxDue, outboxDueAt } from "./outbox.ts";
import { MAX_STRIKES, newBucket, take, type TokenBucket } from "./rate-limit.ts";
import { close, send, Sessions, userTag, type Attachment } from "./sessions.ts";
import { RoomStore } from "./storage.ts";

/** Messages replayed per resume; past it the client gets `resync_required` and pages history. */
export const RESUME_MAX = 1000;
const NO_DATABASE_RETRY_MS = 60_000;
/** Slack on top of DATABASE_TIMEOUT for a call to the database service (which applies the timeout itself). */
const SERVICE_SLACK_MS = 2000;
const GOAWAY_MIN_MS = 1000;

/** A history query the room answers. */
export interface HistoryRange {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/** Why the room refused a call; the Worker maps it to the HTTP error of the same code. */
export type RoomRefusal = Extract<HttpErrorCode, "database_unavailable" | "overloaded">;

/** What `publish` answers. */
export type PublishResult = { ok: true; message: Message; duplicate: boolean } | { ok: false; code: RoomRefusal };

/** What `history` answers. */
export type HistoryResult = { ok: true; messages: Message[] } | { ok: false; code: RoomRefusal };

type Accepted = { kind: "stored"; message: Message } | { kind: "duplicate"; seq: number } | { kind: "overloaded" };

/**
 * One chat room: holds its WebSockets (Hibernation API), orders messages with
 * a gapless `seq`, stores them in its SQLite before anyone sees them, and
 * copies them to PostgreSQL from an outbox driven by its alarm. The same
 * alarm closes sockets whose token ran out. Entry points decode and
 * dispatch; the work is in the small methods below.
 */
export class ChatRoom extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: RoomStore;
  readonly #sessions: Sessions;
  // In memory only: a bucket starts full again after the object wakes up.
  readonly #buckets = new WeakMap<WebSocket, TokenBucket>();
  /** Open sockets as last counted by {@link #reportSockets}; undefined until counted. */
  #sockets: number | undefined;
  /** The alarm time as last set by this instance; undefined until read. */
  #alarmAt: number | null | undefined;
  #draining = false;
  // Multi-process mode (NODE_ID set): the lease this process holds on the
  // room, sends waiting for their commit, and when the lease is next renewed.
  #lease: Lease | undefined;
  #retryAfterS = 5;
  readonly #waiters = new Map<number, { resolve: () => void; reject: (error: unknown) => void }[]>();
  #committing = false;
  /** Single-process mode: an outbox copy is in flight (one at a time, so that copies end in seq order). */
  #copying = false;
  #claiming: Promise<true | RoomRefusal> | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#config = readConfig(env);
    this.#store = new RoomStore(ctx.storage);
    this.#sessions = new Sessions(ctx, this.#config);
    // Pings are answered by the runtime without waking a hibernated room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    // Messages left in the outbox by a process that died during their copy:
    // the alarm copies them (a live object finishes its copies before it can
    // hibernate, so only a restart leaves any).
    if (this.#store.outboxDepth > 0) void ctx.blockConcurrencyWhile(() => this.#arm());
  }

  /** The WebSocket upgrade, forwarded by the Worker with the identity it verified. */
  override async fetch(request: Request): Promise<Response> {
    const parsed = readHandoff(request);
    if (!parsed || request.headers.get("Upgrade") !== "websocket") {
      return new Response("room: expected a WebSocket handoff from the Worker", { status: 400 });
    }
    const { handoff, lastSeq } = parsed;
    if (this.#draining) return refusal("overloaded", "room is shutting down; reconnect shortly");
    const ready = await this.#ready(handoff.room);
    if (ready !== true) {
      return ready === "overloaded"
        ? refusal("overloaded", "room is served by another process; retry shortly", this.#retryAfterS)
        : refusal("database_unavailable", "room cannot confirm its sequence with PostgreSQL yet");
    }
    const firstTab = this.#sessions.open(handoff.user.id).length === 0;
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [userTag(handoff.user.id)]);
    if (this.#config.maxConnections > 0 && openSockets() >= this.#config.maxConnections) {
      // The Worker refuses before the upgrade; this catches a race past it.
      this.#goaway(server, CLOSE.overloaded, "server at capacity");
      return new Response(null, { status: 101, webSocket: client });
    }
    this.#sessions.attach(server, { user: handoff.user, exp: handoff.exp, connectedAt: Date.now() });
    this.#reportSockets();
    logDebug(this.#config, "socket_open", { requestId: handoff.requestId, room: handoff.room.id, user: handoff.user.id, lastSeq });
    send(server, {
      type: "welcome",
      room: handoff.room,
      user: handoff.user,
      headSeq: this.#visibleHead(),
      presence: this.#sessions.presence(),
    });
    if (firstTab) this.#broadcastPresence("join", handoff.user, server);
    if (lastSeq !== undefined) void this.#replay(server, handoff.room.id, lastSeq);
    await this.#arm();
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#scheduleReport();
    if (typeof message !== "string") {
      close(ws, CLOSE.unsupportedData, "binary frames are not supported");
      return;
    }
    if (utf8Length(message, this.#config.maxFrameBytes) > this.#config.maxFrameBytes) {
      close(ws, CLOSE.tooBig, `frame larger than ${this.#config.maxFrameBytes} bytes`);
      return;
    }
    const attachment = this.#sessions.attachment(ws);
    const room = this.#store.room;
    if (!attachment || !room) {
      close(ws, CLOSE.internal, "session state lost");
      return;
    }
    if (Date.now() > attachment.exp * 1000 + this.#config.authGraceMs) {
      close(ws, CLOSE.unauthorized, "token expired");
      return;
    }
    if (!this.#allow(ws)) return;
    const parsed = parseClientFrame(message, this.#config);
    if (!parsed.ok) {
      send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return;
    }
    const started = performance.now();
    try {
      await this.#dispatch(ws, attachment, room, parsed.value);
      if (parsed.value.type === "send") metrics.messageProcessing.observe((performance.now() - started) / 1000);
    } catch (error) {
      // A bug or a storage failure: the frame was not applied (no ack), the
      // socket stays usable, and nothing internal reaches the client.
      console.error(`room ${room.id}: ${parsed.value.type} failed: ${errorText(error)}`);
      reportError(this.#config, error, { waitUntil: (p) => this.ctx.waitUntil(p), where: `room ${parsed.value.type}` });
      send(ws, { type: "error", code: "internal", message: "internal error; retry" });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    metrics.websocketCloses.inc({ code: closeLabel(code) });
    logDebug(this.#config, "socket_close", { room: this.#store.room?.id, user: this.#sessions.attachment(ws)?.user.id, code });
    // 1005/1006 are reserved and cannot be sent back; answer them with 1000.
    close(ws, code === 1005 || code === 1006 ? CLOSE.normal : code, "closing");
    this.#left(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#left(ws);
  }

  /** Closes expired sockets, copies one outbox batch when due, and sets the next alarm. */
  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    this.#sessions.closeExpired(now);
    const room = this.#store.room;
    if (room && this.#config.nodeId) {
      await this.#keepLease(room, now);
    } else {
      if (room && outboxDue(this.#store, now)) await this.#copy(room.id);
    }
    await this.#arm();
  }

  /** RPC: a message published over REST; the same path, order and dedupe as a WebSocket send. */
  async publish(room: Room, user: User, input: PublishRequest): Promise<PublishResult> {
    const ready = await this.#ready(room);
    if (ready !== true) return { ok: false, code: ready };
    let accepted: Accepted;
    try {
      accepted = this.#config.nodeId
        ? await this.#acceptCommitted(room.id, user, input.clientMsgId, input.body)
        : this.#accept(room.id, user, input.clientMsgId, input.body);
    } catch {
      return { ok: false, code: "database_unavailable" };
    }
    if (accepted.kind === "overloaded") return { ok: false, code: "overloaded" };
    if (accepted.kind === "stored") return { ok: true, message: accepted.message, duplicate: false };
    const original = await this.#message(room.id, accepted.seq);
    return original ? { ok: true, message: original, duplicate: true } : { ok: false, code: "database_unavailable" };
  }

  /** RPC: a page of history, ascending, from the room's log and PostgreSQL beyond it. */
  async history(room: Room, range: HistoryRange): Promise<HistoryResult> {
    const ready = await this.#ready(room);
    if (ready !== true) return { ok: false, code: ready };
    const head = this.#visibleHead();
    try {
      const messages =
        range.after !== undefined
          ? await readAfter(this.#store, this.#archive(room.id), room.id, range.after, range.limit)
          : await readBefore(this.#store, this.#archive(room.id), room.id, Math.min(range.before ?? head + 1, head + 1), range.limit);
      return { ok: true, messages: messages.filter((m) => m.seq <= head) };
    } catch (error) {
      if (error instanceof ArchiveUnavailable) return { ok: false, code: "database_unavailable" };
      throw error;
    }
  }

  /** RPC for tests and operators: messages not yet copied to PostgreSQL. */
  async outboxDepth(): Promise<number> {
    return this.#store.outboxDepth;
  }

  /**
   * RPC: shutdown or redeploy. Every socket gets `goaway` with a jittered
   * delay and is closed 1012, so that clients do not all come back at once;
   * new upgrades are refused until this object is restarted.
   */
  async drain(): Promise<number> {
    this.#draining = true;
    const sockets = this.#sessions.open();
    for (const ws of sockets) this.#goaway(ws, CLOSE.serviceRestart, "server restarting");
    this.#reportSockets();
    await this.#release("server restarting");
    return sockets.length;
  }

  /**
   * RPC from the database service's lease keeper (multi-process mode): the
   * room's lease with `epoch` was lost, or another process asked for the
   * room. News of an epoch this object no longer holds is stale and ignored.
   */
  async leaseEvent(epoch: number, event: LeaseEvent): Promise<void> {
    const held = this.#lease?.epoch;
    if (held !== undefined && held !== epoch) return;
    if (held === undefined) {
      // The object was evicted (or hibernated) since it claimed `epoch`: the
      // keeper still renews a lease nobody here remembers. Sockets it may
      // hold go to the new owner, and a wanted room is given up at once.
      this.#lost("room moved to another process");
      const room = this.#store.room;
      if (event === "wanted" && room) await this.#call("lease release", (db) => db.release(room.id, epoch)).catch(() => {});
      return;
    }
    if (event === "lost") this.#lost("room moved to another process");
    else await this.#release("room handed over to another process");
  }

  async #dispatch(ws: WebSocket, attachment: Attachment, room: Room, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case "send": {
        let accepted: Accepted;
        if (this.#config.nodeId) {
          if ((await this.#ready(room)) !== true) {
            // Another process owns the room now: reconnect, nginx sends the client there.
            this.#goaway(ws, CLOSE.serviceRestart, "room moved to another process");
            return;
          }
          try {
            accepted = await this.#acceptCommitted(room.id, attachment.user, frame.clientMsgId, frame.body);
          } catch {
            send(ws, { type: "error", code: "overloaded", message: "message not stored (database unavailable); retry" });
            return;
          }
        } else {
          accepted = this.#accept(room.id, attachment.user, frame.clientMsgId, frame.body);
        }
        if (accepted.kind === "overloaded") {
          send(ws, { type: "error", code: "overloaded", message: "room cannot take messages now; retry later" });
          return;
        }
        // A duplicate is acked with the seq it was first stored under.
        const seq = accepted.kind === "stored" ? accepted.message.seq : accepted.seq;
        send(ws, { type: "ack", clientMsgId: frame.clientMsgId, seq });
        return;
      }
      case "resume":
        await this.#replay(ws, room.id, frame.lastSeq);
        return;
      case "typing": {
        const user = { userId: attachment.user.id, username: attachment.user.username };
        for (const other of this.#sessions.open()) {
          if (this.#sessions.attachment(other)?.user.id !== attachment.user.id) send(other, { type: "typing", user });
        }
        return;
      }
      case "ping":
        if (frame.lastSeq === undefined || this.#sessions.receipt(ws, frame.lastSeq, this.#visibleHead())) send(ws, { type: "pong" });
        return;
      case "auth":
        await this.#reauthenticate(ws, attachment, frame.token);
        return;
    }
  }

  /**
   * Stores a message (or finds the seq this user's message with this client
   * id got) and broadcasts a new one. The SQLite write happens before the
   * broadcast, and the output gate holds every frame until it is durable.
   */
  #accept(roomId: string, user: User, clientMsgId: string, body: string): Accepted {
    const seq = this.#store.findSent(user.id, clientMsgId, Date.now() - this.#config.dedupeWindowMs);
    if (seq !== null) return { kind: "duplicate", seq };
    if (this.#store.outboxDepth >= this.#config.outboxMaxPending) return { kind: "overloaded" };
    const message = this.#store.append(roomId, user, clientMsgId, body);
    this.#sent(message);
    this.#reportRoom();
    // The copy starts now, batched with other rooms' by the database service.
    // A send sets no alarm: a failed copy sets it for its retry (and while
    // that backoff runs, only the alarm retries).
    if (!outboxBackingOff(this.#store, Date.now())) this.ctx.waitUntil(this.#copy(roomId, message));
    return { kind: "stored", message };
  }

  /**
   * Sends what a reconnecting client missed after `lastSeq`: up to
   * {@link RESUME_MAX} messages from the log and PostgreSQL, then what was
   * broadcast meanwhile. If that cannot close the gap (the cap, PostgreSQL
   * unreachable, or a hole in the archive) the client gets `resync_required`
   * with the first seq it lacks, never a silent hole.
   */
  async #replay(ws: WebSocket, roomId: string, lastSeq: number): Promise<void> {
    const head = this.#visibleHead();
    if (lastSeq > head) {
      // The client saw seqs this room does not have: its view cannot be trusted.
      send(ws, { type: "resync_required", fromSeq: head + 1 });
      return;
    }
    this.#sessions.hold(ws);
    let messages: Message[] = [];
    try {
      messages = (await readAfter(this.#store, this.#archive(roomId), roomId, lastSeq, RESUME_MAX)).filter((m) => m.seq <= head);
    } catch (error) {
      // Unreachable archive or a failure of our own: either way the client is
      // told where its stream breaks, and the frames held for it still flow.
      if (!(error instanceof ArchiveUnavailable)) console.error(`room ${roomId}: resume failed: ${errorText(error)}`);
    }
    let delivered = 0;
    for (const message of messages) {
      if (this.#sessions.deliver(ws, encodeServerFrame({ type: "message", ...message }))) delivered += 1;
    }
    this.#countDelivered(delivered);
    const lastSent = messages.at(-1)?.seq ?? lastSeq;
    if (lastSent < head) send(ws, { type: "resync_required", fromSeq: lastSent + 1 });
    for (const frame of this.#sessions.release(ws)) {
      if (frame.type !== "message" || frame.seq > lastSent) this.#sessions.deliver(ws, encodeServerFrame(frame));
    }
  }

  async #reauthenticate(ws: WebSocket, attachment: Attachment, token: string): Promise<void> {
    const started = performance.now();
    const verified = await verifyToken(token, signingKey(this.env, this.#config), this.#config);
    countTokenCheck(verified, started);
    if (!verified.ok || verified.identity.user.id !== attachment.user.id) {
      send(ws, { type: "error", code: "unauthorized", message: "token refused" });
      return;
    }
    this.#sessions.attach(ws, { ...attachment, exp: verified.identity.exp });
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
    metrics.rateLimited.inc();
    if (bucket.strikes >= MAX_STRIKES) {
      close(ws, CLOSE.rateLimited, "rate limit exceeded");
    } else {
      send(ws, { type: "error", code: "rate_limited", message: "slow down" });
    }
    return false;
  }

  /**
   * Before the first message of this object's storage: continue after the
   * highest seq PostgreSQL holds for the room, so that a room whose SQLite is
   * new (a fresh node, a lost disk) never reuses a seq. While PostgreSQL
   * cannot answer, the room refuses work rather than guess. In multi-process
   * mode the room first claims its lease (see {@link #claim}).
   */
  async #ready(room: Room): Promise<true | RoomRefusal> {
    this.#store.saveRoom(room);
    if (this.#config.nodeId) return this.#claim(room);
    if (this.#store.headChecked) return true;
    if (!this.#config.databaseUrl) {
      this.#store.adoptArchivedHead(0);
      return true;
    }
    await this.ctx.blockConcurrencyWhile(async () => {
      if (this.#store.headChecked) return;
      try {
        const archived = await this.#call("head check", (db) => db.archivedHead(room.id));
        this.#store.adoptArchivedHead(archived);
      } catch (error) {
        console.error(`room ${room.id}: cannot read the archived head: ${errorText(error)}`);
      }
    });
    return this.#store.headChecked ? true : "database_unavailable";
  }

  /**
   * Multi-process mode: this process serves the room only while it holds the
   * room's lease in PostgreSQL. Claiming it bumps the epoch, drops what was
   * appended here but never committed, and takes what PostgreSQL holds beyond
   * the local log (another process may have served the room meanwhile).
   */
  async #claim(room: Room): Promise<true | RoomRefusal> {
    if (this.#lease) return true;
    // One claim at a time; concurrent requests wait for the same answer.
    this.#claiming ??= this.#tryClaim(room).finally(() => {
      this.#claiming = undefined;
    });
    const answer = await this.#claiming;
    if (answer === true) {
      // Messages a room that never ran in this mode had acknowledged are copied under the lease.
      if (this.#store.outboxDepth > 0) void this.#commit(room.id);
      await this.#arm();
    }
    return answer;
  }

  async #tryClaim(room: Room): Promise<true | RoomRefusal> {
    const nodeId = this.#config.nodeId;
    if (!this.#config.databaseUrl || !nodeId) return "database_unavailable";
    try {
      const claim = await this.#call<ClaimResult>("lease claim", (db) => db.claim(room.id, this.#store.committed, this.#config.logRetention.count));
      if (!claim.ok) {
        this.#retryAfterS = Math.max(1, Math.ceil(claim.remainingMs / 1000));
        return "overloaded";
      }
      this.#store.adoptArchive(claim.archived, claim.archivedHead);
      this.#lease = { nodeId, epoch: claim.epoch, ttlMs: this.#config.leaseTtlMs };
      return true;
    } catch (error) {
      console.error(`room ${room.id}: cannot claim the room's lease: ${errorText(error)}`);
      return "database_unavailable";
    }
  }

  /**
   * Multi-process mode: stores the message locally with the next seq, then
   * acknowledges it only once PostgreSQL committed it under this process's
   * lease; the broadcast happens at that commit. Sends that arrive while a
   * commit is in flight go in the next batch together. Throws when the
   * commit fails: the sender is told to retry, and its resend is deduplicated.
   */
  async #acceptCommitted(roomId: string, user: User, clientMsgId: string, body: string): Promise<Accepted> {
    const seen = this.#store.findSent(user.id, clientMsgId, Date.now() - this.#config.dedupeWindowMs);
    if (seen !== null) {
      if (seen > this.#store.committed) await this.#committedThrough(roomId, seen);
      return { kind: "duplicate", seq: seen };
    }
    if (this.#store.outboxDepth >= this.#config.outboxMaxPending) return { kind: "overloaded" };
    const message = this.#store.append(roomId, user, clientMsgId, body);
    await this.#committedThrough(roomId, message.seq);
    return { kind: "stored", message };
  }

  #committedThrough(roomId: string, seq: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const list = this.#waiters.get(seq) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(seq, list);
      void this.#commit(roomId);
    });
  }

  /** Commits the outbox in batches, fenced by the lease; broadcasts and acks what committed. */
  async #commit(roomId: string): Promise<void> {
    if (this.#committing) return;
    this.#committing = true;
    try {
      while (this.#lease && this.#store.outboxDepth > 0) {
        const lease: Lease = this.#lease;
        if (!this.#config.databaseUrl) break;
        let held = true;
        let wanted = false;
        const result = await flushOutbox(this.#store, roomId, {
          batchSize: this.#config.outboxBatchSize,
          timeoutMs: this.#config.databaseTimeoutMs + SERVICE_SLACK_MS,
          write: async (batch) => {
            ({ held, wanted } = await this.#db(roomId).commit(roomId, lease.epoch, batch));
          },
        });
        if (!result.ok) {
          metrics.outboxFlush.inc({ result: "error" });
          this.#settle(this.#store.head, result.cause);
          console.error(`room ${roomId}: commit failed (${result.failures} in a row): ${result.error}`);
          break;
        }
        if (!held) {
          // Nothing of this batch was written: the lease moved to another process.
          metrics.outboxFlush.inc({ result: "error" });
          this.#lost("room moved to another process");
          break;
        }
        const last = result.messages.at(-1);
        if (last) this.#store.markCommitted(last.seq);
        this.#store.prune(Date.now(), this.#config.logRetention, this.#config.dedupeWindowMs);
        metrics.outboxFlush.inc({ result: "ok" });
        for (const message of result.messages) this.#sent(message);
        this.#reportRoom();
        if (last) this.#settle(last.seq);
        if (wanted) await this.#release("room handed over to another process");
        if (!last) break;
      }
    } finally {
      this.#committing = false;
    }
    // Sends that failed stay in the outbox; their senders retry, or the alarm does.
    await this.#arm();
  }

  /** Resolves (or with `error`, rejects) every send waiting on a seq up to `through`. */
  #settle(through: number, error?: unknown): void {
    for (const [seq, list] of [...this.#waiters].sort((a, b) => a[0] - b[0])) {
      if (seq > through) break;
      this.#waiters.delete(seq);
      for (const waiter of list) {
        if (error === undefined) waiter.resolve();
        else waiter.reject(error);
      }
    }
  }

  /**
   * Alarm, multi-process mode: claims the lease again if work is waiting,
   * and commits what is due. Renewal is not the room's job: the database
   * service's lease keeper renews every lease of the process at once.
   */
  async #keepLease(room: Room, now: number): Promise<void> {
    if (!this.#lease) {
      if (this.#sessions.open().length === 0 && this.#store.outboxDepth === 0) return;
      if ((await this.#claim(room)) !== true) {
        if (this.#sessions.open().length > 0) this.#lost("room moved to another process");
        return;
      }
    }
    if (this.#lease && outboxDue(this.#store, now)) await this.#commit(room.id);
  }

  /** The lease is gone: nothing more is acknowledged here; clients reconnect to the new owner. */
  #lost(reason: string): void {
    this.#lease = undefined;
    this.#settle(Number.MAX_SAFE_INTEGER, new Error(reason));
    for (const ws of this.#sessions.open()) this.#goaway(ws, CLOSE.serviceRestart, reason);
    this.#reportSockets();
  }

  /** Gives the room up at once (drain, or another process asked for it). */
  async #release(reason: string): Promise<void> {
    const lease = this.#lease;
    const room = this.#store.room;
    if (!lease || !room) return;
    this.#lost(reason);
    if (!this.#config.databaseUrl) return;
    try {
      await this.#call("lease release", (db) => db.release(room.id, lease.epoch));
    } catch (error) {
      console.error(`room ${room.id}: lease release failed (it expires by itself): ${errorText(error)}`);
    }
  }

  /** A new message is stored (and in multi-process mode committed): count it and broadcast it. */
  #sent(message: Message): void {
    const roomType = this.#store.room?.type ?? "public";
    metrics.messagesSent.inc({ room_type: roomType });
    this.#countDelivered(this.#sessions.broadcast({ type: "message", ...message }));
  }

  #countDelivered(count: number): void {
    if (count > 0) metrics.messagesDelivered.inc({ room_type: this.#store.room?.type ?? "public" }, count);
  }


  /** Counters and room stats reach the Stats object within a second, while this room is awake anyway. */
  #scheduleReport(): void {
    scheduleReport(this.env, (promise) => this.ctx.waitUntil(promise));
  }

  /** The newest seq clients may see: in multi-process mode, the last committed one. */
  #visibleHead(): number {
    return this.#config.nodeId ? this.#store.committed : this.#store.head;
  }

  /**
   * Single-process mode: copies the outbox to PostgreSQL through the
   * database service, batch after batch, one copy in flight per room. A
   * failure leaves the rest for the alarm, with backoff.
   */
  async #copy(roomId: string, fresh?: Message): Promise<void> {
    if (this.#copying) return;
    if (!this.#config.databaseUrl) {
      deferOutbox(this.#store, Date.now(), NO_DATABASE_RETRY_MS);
      await this.#arm();
      return;
    }
    this.#copying = true;
    let failed = false;
    try {
      while (this.#store.outboxDepth > 0) {
        const result = await flushOutbox(this.#store, roomId, {
          batchSize: this.#config.outboxBatchSize,
          timeoutMs: this.#config.databaseTimeoutMs + SERVICE_SLACK_MS,
          write: (batch) => this.#db(roomId).copy(batch),
          only: fresh,
        });
        fresh = undefined;
        metrics.outboxFlush.inc({ result: result.ok ? "ok" : "error" });
        this.#reportRoom();
        if (!result.ok) {
          console.error(`room ${roomId}: outbox copy failed (${result.failures} in a row): ${result.error}`);
          failed = true;
          break;
        }
        this.#store.prune(Date.now(), this.#config.logRetention, this.#config.dedupeWindowMs);
        if (result.copied === 0) break;
      }
    } finally {
      this.#copying = false;
    }
    // The alarm retries with backoff.
    if (failed) await this.#arm();
  }

  /** Sets the alarm for the earliest of: the next outbox copy (after a failure or a restart), the next token expiry. */
  async #arm(): Promise<void> {
    const now = Date.now();
    // A copy or commit in flight sets the alarm itself if it fails; a send
    // sets none (an alarm per send woke every room 5 s after each message).
    const outbox = this.#copying || this.#committing ? null : outboxDueAt(this.#store, now);
    const candidates = [outbox, this.#sessions.nextExpiry()].filter((t): t is number => t !== null);
    if (candidates.length === 0) return;
    const target = Math.min(...candidates);
    if (this.#alarmAt === undefined) {
      const stored = await this.ctx.storage.getAlarm();
      // The alarm may have run while we waited (it sets null): keep what it set.
      if (this.#alarmAt === undefined) this.#alarmAt = stored;
    }
    // A cached time in the past has fired or is firing; never trust it to cover
    // `target` (it once left a room with no alarm and a stuck outbox, in F5).
    if (this.#alarmAt !== null && this.#alarmAt > now && this.#alarmAt <= target) return;
    this.#alarmAt = target;
    await this.ctx.storage.setAlarm(target);
  }

  async #message(roomId: string, seq: number): Promise<Message | null> {
    const fromLog = this.#store.get(roomId, seq);
    if (fromLog) return fromLog;
    try {
      const [archived] = await readAfter(this.#store, this.#archive(roomId), roomId, seq - 1, 1);
      return archived?.seq === seq ? archived : null;
    } catch {
      return null;
    }
  }

  #archive(roomId: string): Archive | null {
    if (!this.#config.databaseUrl) return null;
    return (range) => this.#call("archive read", (db) => db.select(roomId, range));
  }

  #goaway(ws: WebSocket, code: number, reason: string): void {
    const retryAfterMs = GOAWAY_MIN_MS + Math.floor(Math.random() * this.#config.reconnectSpreadMs);
    send(ws, { type: "goaway", retryAfterMs });
    close(ws, code, reason);
  }

  #left(ws: WebSocket): void {
    this.#reportSockets();
    const attachment = this.#sessions.attachment(ws);
    if (!attachment) return;
    if (this.#sessions.open(attachment.user.id, ws).length === 0) {
      this.#broadcastPresence("leave", attachment.user, ws);
    }
  }

  /** After sockets opened or closed: the isolate's socket count (capacity) and the room's stat. */
  #reportSockets(): void {
    this.#sockets = this.#sessions.open().length;
    const room = this.#store.room;
    if (room) reportRoomSockets(room.id, room.type, this.#sockets);
    this.#reportRoom();
  }

  /** After sockets or the outbox changed: the room's stat for the Stats object (socket count as last counted). */
  #reportRoom(): void {
    const room = this.#store.room;
    if (!room) return;
    this.#sockets ??= this.#sessions.open().length;
    reportRoom(room.id, { type: room.type, sockets: this.#sockets, outbox: this.#store.outboxDepth });
    this.#scheduleReport();
  }

  #broadcastPresence(event: "join" | "leave", user: User, exclude: WebSocket): void {
    this.#sessions.broadcast(
      { type: "presence", event, user: { userId: user.id, username: user.username } },
      exclude,
    );
  }

  /** The process's database service (durable-objects/database): the room's only way to PostgreSQL. */
  #db(roomId: string): DurableObjectStub<Database> {
    return databaseFor(this.env, this.#config.databaseShards, roomId);
  }

  /** A call to the database service, bounded in time even if the service does not answer. */
  async #call<T>(what: string, work: (db: DurableObjectStub<Database>) => PromiseLike<T>): Promise<T> {
    const room = this.#store.room;
    if (!this.#config.databaseUrl || !room) throw new Error("no database configured");
    return withTimeout(Promise.resolve(work(this.#db(room.id))), this.#config.databaseTimeoutMs + SERVICE_SLACK_MS, what);
  }
}

function refusal(code: RoomRefusal, message: string, retryAfterS = 5): Response {
  return Response.json({ error: { code, message } }, { status: 503, headers: { "Retry-After": String(retryAfterS) } });
}

/** Close codes as a bounded label: the contract's and RFC 6455's own, else "other". */
function closeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || (Object.values(CLOSE) as number[]).includes(code) ? String(code) : "other";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** UTF-8 length of `text`, counting only as far as needed to exceed `limit`. */
function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  return new TextEncoder().encode(text).byteLength;
}
