// One virtual user in a worker thread: a real `ws` socket to its room, the
// scenario's loop (cycle, hold or fanout), and what it measures.
import WebSocket from "ws";
import { goawayDelayMs, parseServerFrame, type ClientFrame } from "../protocol/index.ts";
import type { RoomTracker, Session } from "./room-tracker.ts";
import type { Workload } from "./scenario.ts";
import { nowMs, type Recorder } from "./stats.ts";

/** How long our close may wait for the server's close frame before the socket is terminated. */
const CLOSE_TIMEOUT_MS = 5000;

/** A room as a worker holds it: its URL, tracker and the users welcomed in it now. */
export interface RoomSlot {
  id: string;
  url: string;
  tracker: RoomTracker;
  open: VirtualUser[];
}

/** What the users of one worker share. */
export interface VuContext {
  recorder: Recorder;
  workload: Workload;
  /** Sends waiting for their ack: clientMsgId → send time. */
  pending: Map<string, number>;
  /** Set when the run ends: no more sends or reconnects. */
  stopping: boolean;
  /** Sockets welcomed and not closing. */
  sockets: number;
  /** Padding that brings a body to the workload's size. */
  padding: string;
}

/** Connect-error kinds: the HTTP status of a refused upgrade, a handshake timeout, else the socket error code. */
function connectErrorKind(error: Error & { code?: string }): string {
  const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
  if (status) return `connect_${status}`;
  if (/handshake has timed out/i.test(error.message)) return "connect_timeout";
  return `connect_${error.code ?? "failed"}`.toLowerCase();
}

/** The send time a message body carries, if it is one of ours. */
function sentAt(body: string): number | undefined {
  if (!body.startsWith('{"t":')) return undefined;
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value === "object" && value !== null && "t" in value && typeof value.t === "number") return value.t;
  } catch {
    // Not one of ours.
  }
  return undefined;
}

/** One virtual user. */
export class VirtualUser {
  readonly index: number;
  readonly room: RoomSlot;
  readonly #token: string;
  readonly #ctx: VuContext;
  #active = false;
  #ws: WebSocket | null = null;
  #session: Session | null = null;
  /** When our close of the current socket began (0: not closing). */
  #closingSince = 0;
  #welcomed = false;
  #retryAfterMs: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #ping: ReturnType<typeof setInterval> | undefined;
  #sends = 0;

  constructor(index: number, room: RoomSlot, token: string, ctx: VuContext) {
    this.index = index;
    this.room = room;
    this.#token = token;
    this.#ctx = ctx;
  }

  /** True while a socket (connecting, open or closing) exists. */
  get busy(): boolean {
    return this.#ws !== null;
  }

  get active(): boolean {
    return this.#active;
  }

  /** Starts the user's loop (no-op if running). */
  start(): void {
    if (this.#active) return;
    this.#active = true;
    if (!this.#ws && this.#timer === undefined) this.#connect();
  }

  /** Ends the loop and closes the socket. */
  stop(): void {
    this.#active = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#close();
  }

  /** Sends one message whose body carries the send time. */
  send(): void {
    const ws = this.#ws;
    if (!ws || !this.#welcomed || this.#closingSince || this.#ctx.stopping || ws.readyState !== WebSocket.OPEN) return;
    const clientMsgId = `${this.index}.${++this.#sends}`;
    const t = nowMs();
    const frame = { type: "send", clientMsgId, body: `{"t":${t},"p":"${this.#ctx.padding}"}` } satisfies ClientFrame;
    ws.send(JSON.stringify(frame));
    this.#ctx.pending.set(clientMsgId, t);
    this.#ctx.recorder.counts.sent += 1;
  }

  #connect(): void {
    this.#timer = undefined;
    if (!this.#active || this.#ctx.stopping) return;
    const started = performance.now();
    const ws = new WebSocket(this.room.url, {
      headers: { Authorization: `Bearer ${this.#token}` },
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.#ws = ws;
    this.#closingSince = 0;
    this.#welcomed = false;
    let opened = false;
    const recorder = this.#ctx.recorder;
    ws.on("open", () => {
      opened = true;
      recorder.connect.recordMs(performance.now() - started);
      recorder.counts.connects += 1;
    });
    ws.on("error", (error: Error & { code?: string }) => {
      // After the upgrade, the close that follows is what counts.
      if (opened || this.#closingSince) return;
      recorder.counts.connectFailures += 1;
      recorder.error(connectErrorKind(error));
    });
    ws.on("message", (data: WebSocket.RawData) => this.#frame(data));
    ws.on("close", (code: number) => this.#closed(ws, code, opened));
  }

  #frame(data: WebSocket.RawData): void {
    const at = nowMs();
    const recorder = this.#ctx.recorder;
    const parsed = parseServerFrame(data.toString());
    if (!parsed.ok) {
      recorder.error("bad_frame");
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case "welcome":
        this.#session = this.room.tracker.join(frame.headSeq);
        this.#onWelcome();
        return;
      case "message": {
        recorder.counts.received += 1;
        const t = sentAt(frame.body);
        if (t !== undefined) recorder.e2e.recordMs(at - t);
        if (!this.#session) return;
        const { skipped, duplicate } = this.room.tracker.receive(this.#session, frame.seq);
        recorder.counts.lost += skipped;
        if (duplicate) {
          recorder.counts.duplicates += 1;
          recorder.error("duplicate");
        }
        return;
      }
      case "ack": {
        const sent = this.#ctx.pending.get(frame.clientMsgId);
        if (sent === undefined) return;
        this.#ctx.pending.delete(frame.clientMsgId);
        recorder.ack.recordMs(at - sent);
        recorder.counts.acked += 1;
        this.room.tracker.acked(frame.seq, at);
        return;
      }
      case "error":
        recorder.error(`frame_${frame.code}`);
        return;
      case "resync_required":
        recorder.error("resync_required");
        return;
      case "goaway":
        recorder.error("goaway");
        this.#retryAfterMs = frame.retryAfterMs;
        return;
      default:
        return;
    }
  }

  #onWelcome(): void {
    this.#welcomed = true;
    this.#ctx.sockets += 1;
    this.#joinOpen();
    const workload = this.#ctx.workload;
    if (workload.kind === "cycle") {
      for (let i = 0; i < workload.sendsPerConnection; i += 1) this.send();
      const stay = workload.connected * (1 + workload.jitter * (2 * Math.random() - 1));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#close();
      }, stay);
    } else if (workload.kind === "hold" && workload.pingEvery !== undefined) {
      const ping = JSON.stringify({ type: "ping" } satisfies ClientFrame);
      this.#ping = setInterval(() => this.#ws?.readyState === WebSocket.OPEN && this.#ws.send(ping), workload.pingEvery);
    }
  }

  /** Leaves the welcomed set (sockets gauge, fanout senders). */
  #leaveOpen(): void {
    if (!this.#welcomed) return;
    this.#welcomed = false;
    this.#ctx.sockets -= 1;
    const open = this.room.open;
    const i = open.indexOf(this);
    if (i >= 0) {
      open[i] = open[open.length - 1] as VirtualUser;
      open.pop();
    }
  }

  #joinOpen(): void {
    this.room.open.push(this);
  }

  #close(): void {
    const ws = this.#ws;
    if (!ws || this.#closingSince) return;
    this.#closingSince = nowMs();
    this.#leaveOpen();
    clearInterval(this.#ping);
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
      return;
    }
    ws.close(1000, "bye");
    this.#closeTimer = setTimeout(() => {
      if (this.#ws !== ws) return;
      this.#ctx.recorder.counts.closeTimeouts += 1;
      ws.terminate();
    }, CLOSE_TIMEOUT_MS);
  }

  #closed(ws: WebSocket, code: number, opened: boolean): void {
    if (this.#ws !== ws) return;
    clearTimeout(this.#closeTimer);
    clearInterval(this.#ping);
    const recorder = this.#ctx.recorder;
    const ours = this.#closingSince > 0;
    if (!ours) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#leaveOpen();
      if (opened) {
        recorder.counts.unexpectedCloses += 1;
        recorder.error(`close_${code}`);
      }
    }
    if (this.#session) {
      recorder.counts.lost += this.room.tracker.leave(this.#session, ours ? this.#closingSince : nowMs());
      this.#session = null;
    }
    this.#ws = null;
    if (!this.#active || this.#ctx.stopping) return;
    const workload = this.#ctx.workload;
    let delay: number;
    if (this.#retryAfterMs !== null) delay = goawayDelayMs(this.#retryAfterMs);
    else if (ours) delay = workload.kind === "cycle" ? workload.pause : 0;
    else delay = 1000 + Math.random() * 1000;
    this.#retryAfterMs = null;
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}
