import { DurableObject } from "cloudflare:workers";
import { CLOSE, type PublishRequest, type Room, type User } from "../../protocol/index.ts";
import { readConfig, type Config } from "../../core/config.ts";
import { logDebug } from "../../core/log.ts";
import { reportError } from "../../core/sentry.ts";
import { signingKey, verifyToken, type TokenCheck } from "../../core/tokens.ts";
import { countTokenCheck } from "../../metrics-bridge/registry.ts";
import type { LeaseEvent } from "../database/lease-keeper.ts";
import { AlarmClock } from "./alarm.ts";
import { errorText, type Committer, type CommitterParts, type RoomRefusal } from "./committer.ts";
import { FrameGuards } from "./guards.ts";
import { readHandoff } from "./handoff.ts";
import { handleFrame, type HandlerParts } from "./handlers.ts";
import type { LogView } from "./history.ts";
import type { MessageLog } from "./message-log.ts";
import { LeasedCommitter } from "./leased-committer.ts";
import { LocalCommitter } from "./local-committer.ts";
import { openSocket, type OpenParts } from "./open-socket.ts";
import { announceLeave } from "./presence.ts";
import { MessageBudget } from "./rate-limit.ts";
import { replay } from "./replay.ts";
import { history, publish, type HistoryRange, type HistoryResult, type PublishResult, type RestParts } from "./rest.ts";
import { RoomDatabase } from "./room-database.ts";
import { RoomMetrics } from "./room-metrics.ts";
import { durableSql } from "./room-sql.ts";
import { Sequencer } from "./sequencer.ts";
import { close, closeReply, send, Sessions } from "./sessions.ts";
import { RoomStore } from "./storage.ts";

export type { RoomRefusal } from "./committer.ts";
export { RESUME_MAX } from "./replay.ts";
export type { HistoryRange, HistoryResult, PublishRefusal, PublishResult } from "./rest.ts";

/**
 * One chat room: holds its WebSockets (Hibernation API), orders messages with
 * a gapless `seq` (sequencer.ts), stores them in its SQLite before anyone
 * sees them (storage.ts), and gets them into PostgreSQL through its committer
 * (committer.ts), chosen once here: local in a single process, leased when
 * NODE_ID is set. The entry points below only decode and dispatch.
 */
export class ChatRoom extends DurableObject<Env> {
  readonly #config: Config;
  readonly #store: RoomStore;
  readonly #sequencer: Sequencer;
  readonly #sessions: Sessions;
  readonly #database: RoomDatabase;
  readonly #metrics: RoomMetrics;
  readonly #committer: Committer;
  readonly #budget: MessageBudget;
  readonly #guards: FrameGuards;
  readonly #alarm: AlarmClock;
  readonly #handlers: HandlerParts<WebSocket>;
  readonly #logView: LogView & { log: MessageLog };
  #draining = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = readConfig(env);
    this.#config = config;
    this.#store = new RoomStore(durableSql(ctx.storage));
    this.#sequencer = new Sequencer(this.#store, config);
    this.#sessions = new Sessions(ctx, config);
    this.#database = new RoomDatabase(env, config, () => this.#store.room?.id);
    this.#metrics = new RoomMetrics({
      room: () => this.#store.room,
      countSockets: (userId) => this.#sessions.open(userId).length,
      outboxDepth: () => this.#store.outbox.depth,
      env,
      waitUntil: (p) => ctx.waitUntil(p),
    });
    const parts: CommitterParts = {
      config,
      store: this.#store,
      sequencer: this.#sequencer,
      database: this.#database,
      committed: (message) => {
        this.#metrics.sent(message);
        this.#metrics.delivered(this.#sessions.broadcast({ type: "message", ...message }));
      },
      outboxChanged: () => this.#metrics.roomChanged(),
      arm: () => this.#alarm.arm(),
      moved: (reason) => this.#goawayAll(reason),
      hasSockets: () => this.#sessions.open().length > 0,
      exclusive: (work) => ctx.blockConcurrencyWhile(work),
      background: (work) => ctx.waitUntil(work),
    };
    // The one place the process mode is looked at.
    this.#committer = config.nodeId ? new LeasedCommitter(parts, config.nodeId) : new LocalCommitter(parts);
    this.#budget = new MessageBudget(config);
    this.#guards = new FrameGuards(config, this.#budget);
    this.#alarm = new AlarmClock(ctx.storage, (now) => [this.#committer.dueAt(now), this.#sessions.nextExpiry()]);
    this.#logView = { log: this.#store.log, floor: () => this.#sequencer.floor };
    this.#handlers = {
      sockets: this.#sessions,
      committer: this.#committer,
      replay: (ws, lastSeq) => this.#replay(ws, lastSeq),
      verify: (token) => this.#verify(token),
      goaway: (ws, code, reason) => this.#sessions.goaway(ws, code, reason),
    };
    // Pings are answered by the runtime without waking a hibernated room.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
    // Messages left in the outbox by a process that died during their copy:
    // the alarm copies them (a live object finishes its copies before it can
    // hibernate, so only a restart leaves any).
    if (this.#store.outbox.depth > 0) void ctx.blockConcurrencyWhile(() => this.#alarm.arm());
  }

  /** The WebSocket upgrade, forwarded by the Worker with the identity it verified. */
  override async fetch(request: Request): Promise<Response> {
    const parsed = readHandoff(request);
    if (!parsed || request.headers.get("Upgrade") !== "websocket") {
      return new Response("room: expected a WebSocket handoff from the Worker", { status: 400 });
    }
    return openSocket(this.#openParts(parsed.handoff.room), parsed.handoff, parsed.lastSeq);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    this.#metrics.touched();
    const admitted = this.#guards.admit(ws, message, this.#sessions.attachment(ws), this.#store.room);
    if (!admitted) return;
    const { attachment, room, frame } = admitted;
    const started = performance.now();
    try {
      await handleFrame(this.#handlers, ws, attachment, room, frame);
      if (frame.type === "send") this.#metrics.processed(started);
    } catch (error) {
      // A bug or a storage failure: the frame was not applied (no ack), the
      // socket stays usable, and nothing internal reaches the client.
      console.error(`room ${room.id}: ${frame.type} failed: ${errorText(error)}`);
      reportError(this.#config, error, { waitUntil: (p) => this.ctx.waitUntil(p), where: `room ${frame.type}` });
      send(ws, { type: "error", code: "internal", message: "internal error; retry" });
    }
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.#metrics.closed(code);
    logDebug(this.#config, "socket_close", { room: this.#store.room?.id, user: this.#sessions.attachment(ws)?.user.id, code });
    close(ws, closeReply(code), "closing");
    this.#left(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#left(ws);
  }

  /** Closes expired sockets, lets the committer do what is due, and sets the next alarm. */
  override async alarm(): Promise<void> {
    this.#alarm.fired();
    const now = Date.now();
    this.#sessions.closeExpired(now);
    const room = this.#store.room;
    if (room) await this.#committer.alarm(room, now);
    await this.#alarm.arm();
  }

  /** RPC: a message published over REST; the same path, order and dedupe as a WebSocket send. */
  async publish(room: Room, user: User, input: PublishRequest): Promise<PublishResult> {
    const ready = await this.#ready(room);
    return ready === true ? publish(this.#rest(), room, user, input) : { ok: false, code: ready };
  }

  /** RPC: a page of history, ascending, from the room's log and PostgreSQL beyond it. */
  async history(room: Room, range: HistoryRange): Promise<HistoryResult> {
    const ready = await this.#ready(room);
    return ready === true ? history(this.#rest(), range) : { ok: false, code: ready };
  }

  /** RPC for tests and operators: messages not yet copied to PostgreSQL. */
  async outboxDepth(): Promise<number> {
    return this.#store.outbox.depth;
  }

  /**
   * RPC: shutdown or redeploy. Every socket gets `goaway` with a jittered
   * delay and is closed 1012, so that clients do not all come back at once;
   * new upgrades are refused until this object is restarted.
   */
  async drain(): Promise<number> {
    this.#draining = true;
    const sockets = this.#sessions.open();
    for (const ws of sockets) this.#sessions.goaway(ws, CLOSE.serviceRestart, "server restarting");
    this.#metrics.socketsChanged();
    await this.#committer.release("server restarting");
    return sockets.length;
  }

  /** RPC from the database service's lease keeper (multi-process mode): see LeasedCommitter#leaseEvent. */
  async leaseEvent(epoch: number, event: LeaseEvent): Promise<void> {
    await this.#committer.leaseEvent(epoch, event);
  }

  /** Remembers the room the Worker named, then asks the committer whether the room may serve. */
  #ready(room: Room): Promise<true | RoomRefusal> {
    this.#store.saveRoom(room);
    return this.#committer.ready(room);
  }

  #openParts(room: Room): OpenParts {
    return {
      config: this.#config,
      ctx: this.ctx,
      sessions: this.#sessions,
      committer: this.#committer,
      metrics: this.#metrics,
      draining: () => this.#draining,
      ready: () => this.#ready(room),
      replay: (ws, lastSeq) => this.#replay(ws, lastSeq),
      goaway: (ws, code, reason) => this.#sessions.goaway(ws, code, reason),
      arm: () => this.#alarm.arm(),
    };
  }

  #replay(ws: WebSocket, lastSeq: number): Promise<void> {
    const parts = {
      ...this.#logView,
      archive: this.#database.archive(),
      sessions: this.#sessions,
      head: this.#committer.visibleHead(),
      delivered: (count: number) => this.#metrics.delivered(count),
    };
    return replay(parts, ws, this.#store.room?.id ?? "", lastSeq);
  }

  async #verify(token: string): Promise<TokenCheck> {
    const started = performance.now();
    const verified = await verifyToken(token, signingKey(this.env, this.#config), this.#config);
    countTokenCheck(verified, started);
    return verified;
  }

  #rest(): RestParts {
    return {
      committer: this.#committer,
      budget: this.#budget,
      logView: this.#logView,
      archive: this.#database.archive(),
    };
  }

  #goawayAll(reason: string): void {
    for (const ws of this.#sessions.open()) this.#sessions.goaway(ws, CLOSE.serviceRestart, reason);
    this.#metrics.socketsChanged();
  }

  #left(ws: WebSocket): void {
    this.#metrics.socketsChanged(this.#sessions.attachment(ws)?.user.id);
    announceLeave(this.#sessions, ws);
  }
}
