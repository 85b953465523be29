// One lane of the fuzzer: a user's socket in a room that sends its
// generator's frames one after another, paced under the user's message
// budget, reconnects when the server closes it, and accounts for every
// answer against the oracle (oracle.ts), session by session.
import WebSocket from "ws";
import { CLOSE, FRAME_ERRORS, parseServerFrame, type ServerFrame } from "../../../protocol/index.ts";
import { SENTINEL_PING, type FrameGenerator, type FuzzFrame } from "./generate.ts";
import { ackedId, expected, type OracleLimits } from "./oracle.ts";

/** Close codes a server may send: the contract's (protocol/codes.ts CLOSE) and RFC 6455's. */
export const DOCUMENTED_CLOSES: ReadonlySet<number> = new Set([
  ...Object.values(CLOSE),
  1000,
  1001,
  1002,
  1003,
  1007,
  1008,
  1009,
  1010,
  1011,
  1012,
  1013,
  1014,
  1015,
]);

/** Frames of one user in one room go through one pacer, since the room's budget is per user. */
export class Pacer {
  readonly #intervalMs: number;
  readonly #refillMs: number;
  #nextAt = 0;
  /** Until when refusals are explained by a burst of this user. */
  burstUntil = 0;

  constructor(perSecond: number, burst: number) {
    this.#intervalMs = 1000 / perSecond;
    this.#refillMs = (burst / perSecond) * 1000 * 1.2;
  }

  /** Waits for this user's next slot. */
  async take(): Promise<void> {
    const now = Date.now();
    this.#nextAt = Math.max(this.#nextAt, now);
    const wait = this.#nextAt - now;
    this.#nextAt += this.#intervalMs;
    if (wait > 0) await sleep(wait);
  }

  /** A burst of `frames` went out unpaced: hold everyone until the budget has refilled. */
  burst(frames: number): void {
    const until = Math.max(this.#nextAt, Date.now()) + frames * this.#intervalMs + this.#refillMs;
    this.#nextAt = until;
    this.burstUntil = until + 2000;
  }
}

/** What every lane reports to: the run's counts, the acks and broadcasts seen, the violations. */
export class Recorder {
  readonly seed: number;
  /** Violations by category: how many, and the first few in full. */
  readonly violations = new Map<string, { count: number; examples: string[] }>();
  readonly warnings: string[] = [];
  readonly kinds = new Map<string, number>();
  readonly expectations = new Map<string, number>();
  readonly errors = new Map<string, number>();
  readonly closes = new Map<number, number>();
  readonly refusals = new Map<number, number>();
  /** Every ack a fuzz socket got: room, user, clientMsgId, seq. */
  readonly acks: { room: string; userId: string; clientMsgId: string; seq: number; where: string }[] = [];
  /** The first broadcast seen for each seq of each room (every socket must see the same). */
  readonly broadcasts = new Map<string, Map<number, Extract<ServerFrame, { type: "message" }>>>();
  readonly #ackSeq = new Map<string, number>();
  readonly #mismatched = new Set<string>();
  frames = 0;
  bytes = 0;
  /** Milliseconds the lanes spent waiting, summed: for their budget, for a new socket, for a close. */
  readonly timing = { pace: 0, open: 0, close: 0 };
  serverFrames = 0;
  sessions = 0;

  /** Every frame sent, when FUZZ_LOG asks for it. */
  readonly log: string[] = [];
  readonly #logging: boolean;

  constructor(seed: number, logging = false) {
    this.seed = seed;
    this.#logging = logging;
  }

  /** Logs one frame in full (FUZZ_LOG). */
  logFrame(lane: number, frame: FuzzFrame, answer: string): void {
    if (!this.#logging) return;
    const data =
      typeof frame.data === "string" ? JSON.stringify(frame.data) : `${frame.binary ? "binary" : "text"}:${frame.data.toString("hex")}`;
    this.log.push(`${lane}\t${frame.n}\t${frame.kind}\t${answer}\t${data}`);
  }

  violation(category: string, text: string): void {
    const entry = this.violations.get(category) ?? { count: 0, examples: [] };
    entry.count += 1;
    if (entry.examples.length < 3) entry.examples.push(text);
    this.violations.set(category, entry);
  }

  /** All violations, one line per category. */
  violationLines(): string[] {
    return [...this.violations].map(([category, { count, examples }]) => `${category} x${count}: ${examples.join(" /// ")}`);
  }

  warn(text: string): void {
    if (this.warnings.length < 200) this.warnings.push(text);
  }

  count(map: Map<string, number>, key: string): void;
  count(map: Map<number, number>, key: number): void;
  count<K>(map: Map<K, number>, key: K): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  ack(room: string, userId: string, clientMsgId: string, seq: number, where: string): void {
    const key = `${room}|${userId}|${clientMsgId}`;
    const before = this.#ackSeq.get(key);
    if (before !== undefined && before !== seq) {
      this.violation(
        "dedupe",
        `${where}: clientMsgId ${JSON.stringify(clientMsgId)} acked with seq ${seq}, earlier with ${before} (dedupe)`,
      );
    }
    this.#ackSeq.set(key, seq);
    this.acks.push({ room, userId, clientMsgId, seq, where });
  }

  broadcast(room: string, message: Extract<ServerFrame, { type: "message" }>, where: string): void {
    let seen = this.broadcasts.get(room);
    if (!seen) {
      seen = new Map();
      this.broadcasts.set(room, seen);
    }
    const first = seen.get(message.seq);
    if (!first) {
      seen.set(message.seq, message);
      return;
    }
    const fields = (Object.keys(message) as (keyof typeof message)[]).filter((k) => first[k] !== message[k]);
    if (fields.length > 0 && !this.#mismatched.has(`${room}|${message.seq}`)) {
      this.#mismatched.add(`${room}|${message.seq}`);
      const diff = fields.map((k) => `${k} ${preview(JSON.stringify(first[k]))} vs ${preview(JSON.stringify(message[k]))}`).join(", ");
      this.violation("broadcast differs between sockets", `${where}: seq ${message.seq} of ${room}: ${diff}`);
    }
  }
}

/** Counted answers of one session. */
interface Tally {
  errors: Map<string, number>;
  pongs: number;
  receipts: number;
  acks: number;
}

interface Session {
  number: number;
  ws: WebSocket;
  frames: FuzzFrame[];
  expect: Tally;
  got: Tally;
  /** clientMsgIds sent and not yet acked (a multiset). */
  unacked: Map<string, number>;
  /** Answers can no longer be counted exactly (a burst, a refusal, a receipt that may close). */
  relaxed: string | null;
  /** The code the socket must be closed with after the last frame sent. */
  closeExpected: number | null;
  /** Other codes a close may have, given what was sent. */
  closeAllowed: Set<number>;
  welcomed: boolean;
  closed: { code: number; reason: string } | null;
  closing: boolean;
  onClose: Promise<void>;
}

/** A lane: one socket of one user in one room, for its share of the run's frames. */
export class Lane {
  readonly id: number;
  readonly room: string;
  readonly userId: string;
  lastSeq = 0;
  readonly #url: string;
  readonly #token: string;
  readonly #generator: FrameGenerator;
  readonly #pacer: Pacer;
  readonly #limits: OracleLimits & { rateLimitBurst: number };
  readonly #selfTokens: ReadonlySet<string>;
  readonly #recorder: Recorder;
  readonly #history: string[] = [];
  #session: Session | null = null;
  #sessions = 0;

  constructor(options: {
    id: number;
    room: string;
    userId: string;
    url: string;
    token: string;
    generator: FrameGenerator;
    pacer: Pacer;
    limits: OracleLimits & { rateLimitBurst: number };
    selfTokens: ReadonlySet<string>;
    recorder: Recorder;
  }) {
    this.id = options.id;
    this.room = options.room;
    this.userId = options.userId;
    this.#url = options.url;
    this.#token = options.token;
    this.#generator = options.generator;
    this.#pacer = options.pacer;
    this.#limits = options.limits;
    this.#selfTokens = options.selfTokens;
    this.#recorder = options.recorder;
  }

  /** Sends `count` frames, then the sentinel, and checks the last session's answers exactly. */
  async run(count: number, deadline: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      if (Date.now() > deadline) {
        this.#recorder.violation("time", `lane ${this.id}: out of time after ${i} of ${count} frames`);
        return;
      }
      // Drawn before anything the server does can matter, so the lane's frames follow from the seed.
      const frame = this.#generator.next({ lastSeq: this.lastSeq });
      // A burst: the same valid frame, unpaced, past the user's budget (refusals; 10 in a row close 4429).
      const copies = frame.burst === undefined ? 1 : Math.min(count - i, this.#limits.rateLimitBurst + (frame.burst === "close" ? 15 : 5));
      let t = Date.now();
      if (copies > 1) this.#pacer.burst(copies);
      else await this.#pacer.take();
      this.#recorder.timing.pace += Date.now() - t;
      t = Date.now();
      const session = await this.#open(deadline);
      this.#recorder.timing.open += Date.now() - t;
      if (!session) return;
      if (copies > 1) session.relaxed ??= `burst at frame ${frame.n}`;
      for (let copy = 0; copy < copies && session.closeExpected === null && !session.closed; copy++) this.#send(session, frame);
      i += copies - 1;
      if (session.closeExpected !== null) {
        t = Date.now();
        await this.#end(session);
        this.#recorder.timing.close += Date.now() - t;
      }
    }
    await this.#pacer.take();
    const session = await this.#open(deadline);
    if (session) await this.#finish(session);
  }

  /** The last frames this lane sent, for a report. */
  recent(): string[] {
    return this.#history.slice(-12);
  }

  #where(session: Session, frame?: FuzzFrame): string {
    return `lane ${this.id} (${this.room}) session ${session.number}${frame ? ` frame ${frame.n} [${frame.kind}]` : ""}`;
  }

  #send(session: Session, frame: FuzzFrame): void {
    const recorder = this.#recorder;
    const outcome = expected(frame, this.#limits, this.#selfTokens);
    recorder.frames += 1;
    recorder.bytes += typeof frame.data === "string" ? Buffer.byteLength(frame.data) : frame.data.length;
    recorder.count(recorder.kinds, frame.kind.split(/[/:]/, 2).join("/"));
    const answer = outcome.kind === "error" || outcome.kind === "close" ? `${outcome.kind} ${outcome.code}` : outcome.kind;
    recorder.count(recorder.expectations, answer);
    recorder.logFrame(this.id, frame, answer);
    session.frames.push(frame);
    this.#history.push(`${frame.n} ${frame.kind} ${describe(frame)}`);
    if (this.#history.length > 50) this.#history.shift();
    const { expect } = session;
    switch (outcome.kind) {
      case "close":
        session.closeExpected = outcome.code;
        break;
      case "error":
        expect.errors.set(outcome.code, (expect.errors.get(outcome.code) ?? 0) + 1);
        break;
      case "ack": {
        expect.acks += 1;
        const id = ackedId(frame);
        if (id !== null) session.unacked.set(id, (session.unacked.get(id) ?? 0) + 1);
        break;
      }
      case "pong":
        expect.pongs += 1;
        break;
      case "receipt":
        expect.receipts += 1;
        session.closeAllowed.add(CLOSE.slowConsumer);
        break;
      case "resume":
        session.closeAllowed.add(CLOSE.slowConsumer);
        break;
      case "silent":
        break;
    }
    try {
      session.ws.send(frame.data, { binary: frame.binary });
    } catch (error) {
      recorder.warn(`${this.#where(session, frame)}: send failed: ${String(error)}`);
    }
  }

  /** The open session, or a new one (after a close); null when the lane cannot connect before the deadline. */
  async #open(deadline: number): Promise<Session | null> {
    const current = this.#session;
    if (current && !current.closed && !current.closing) return current;
    if (current?.closed && !current.closing) {
      // Closed by the server without a frame that must close it (a receipt, a refusal, a slow consumer).
      current.closing = true;
      this.#closed(current);
      this.#compare(current, "at-most");
    }
    for (let attempt = 0; ; attempt++) {
      if (Date.now() > deadline) {
        this.#recorder.violation("reconnect", `lane ${this.id}: could not reconnect before the deadline`);
        return null;
      }
      const session = await this.#connect().catch((error: unknown) => {
        const status = (error as { status?: number }).status ?? 0;
        this.#recorder.count(this.#recorder.refusals, status);
        return null;
      });
      if (session) {
        this.#session = session;
        return session;
      }
      await sleep(Math.min(2000, 100 * 2 ** attempt));
    }
  }

  #connect(): Promise<Session> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.#url, { headers: { Authorization: `Bearer ${this.#token}` } });
      const number = ++this.#sessions;
      this.#recorder.sessions += 1;
      const tally = (): Tally => ({ errors: new Map(), pongs: 0, receipts: 0, acks: 0 });
      let closed!: () => void;
      const session: Session = {
        number,
        ws,
        frames: [],
        expect: tally(),
        got: tally(),
        unacked: new Map(),
        relaxed: null,
        closeExpected: null,
        // A socket that reads slower than the room writes is closed 4001 (SEND_BUFFER_MAX_BYTES): on a busy
        // machine these sockets can be that reader, whatever they sent.
        closeAllowed: new Set([CLOSE.slowConsumer]),
        welcomed: false,
        closed: null,
        closing: false,
        onClose: new Promise<void>((r) => (closed = r)),
      };
      ws.on("message", (data: Buffer, isBinary: boolean) => this.#receive(session, data, isBinary));
      ws.on("close", (code: number, reason: Buffer) => {
        session.closed = { code, reason: reason.toString() };
        closed();
      });
      ws.on("error", (error) => {
        if (!session.closed && ws.readyState !== WebSocket.OPEN) reject(error);
      });
      ws.once("unexpected-response", (_request, response) => {
        response.resume();
        reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode }));
        ws.terminate();
      });
      ws.once("open", () => resolve(session));
    });
  }

  #receive(session: Session, data: Buffer, isBinary: boolean): void {
    const recorder = this.#recorder;
    recorder.serverFrames += 1;
    const where = this.#where(session);
    if (isBinary) {
      recorder.violation("server frame", `${where}: the server sent a binary frame`);
      return;
    }
    const parsed = parseServerFrame(data.toString("utf8"));
    if (!parsed.ok) {
      recorder.violation("server frame", `${where}: bad server frame (${parsed.message}): ${preview(data.toString("utf8"))}`);
      return;
    }
    const frame = parsed.value;
    if (!session.welcomed && frame.type !== "welcome" && frame.type !== "goaway")
      recorder.violation("welcome", `${where}: first frame is ${frame.type}, not welcome`);
    const { got } = session;
    switch (frame.type) {
      case "welcome":
        if (session.welcomed) recorder.violation("welcome", `${where}: a second welcome`);
        session.welcomed = true;
        this.lastSeq = Math.max(this.lastSeq, frame.headSeq);
        if (frame.user.id !== this.userId) recorder.violation("welcome", `${where}: welcome for user ${frame.user.id}`);
        break;
      case "message":
        this.lastSeq = Math.max(this.lastSeq, frame.seq);
        if (frame.roomId !== this.room) recorder.violation("message of another room", `${where}: message of room ${frame.roomId}`);
        recorder.broadcast(this.room, frame, where);
        break;
      case "ack": {
        got.acks += 1;
        this.lastSeq = Math.max(this.lastSeq, frame.seq);
        const left = session.unacked.get(frame.clientMsgId) ?? 0;
        if (left === 0)
          recorder.violation(
            "ack not sent",
            `${where}: ack for clientMsgId ${JSON.stringify(frame.clientMsgId)}, which this socket did not send (or was acked already)`,
          );
        else if (left === 1) session.unacked.delete(frame.clientMsgId);
        else session.unacked.set(frame.clientMsgId, left - 1);
        recorder.ack(this.room, this.userId, frame.clientMsgId, frame.seq, where);
        break;
      }
      case "pong":
        got.pongs += 1;
        break;
      case "error":
        recorder.count(recorder.errors, frame.code);
        got.errors.set(frame.code, (got.errors.get(frame.code) ?? 0) + 1);
        if (!(FRAME_ERRORS as readonly string[]).includes(frame.code))
          recorder.violation("error code", `${where}: error code ${frame.code} outside FRAME_ERRORS`);
        if (frame.code === "internal")
          recorder.violation(
            "error internal",
            `${where}: error internal (${frame.message}); last frames: ${this.recent().slice(-3).join(" | ")}`,
          );
        if (frame.code === "overloaded") recorder.violation("error overloaded", `${where}: error overloaded (${frame.message})`);
        if (frame.code === "rate_limited") {
          const explained = session.relaxed !== null || Date.now() < this.#pacer.burstUntil;
          if (!explained) recorder.warn(`${where}: rate_limited while paced`);
          session.relaxed ??= "rate_limited";
          session.closeAllowed.add(CLOSE.rateLimited);
        }
        break;
      case "goaway":
        session.closeAllowed.add(CLOSE.serviceRestart).add(CLOSE.overloaded);
        break;
      case "resync_required":
      case "presence":
      case "typing":
        break;
    }
  }

  /** Waits for the close a frame must cause, and checks its code. */
  async #end(session: Session): Promise<void> {
    const closedInTime = await Promise.race([session.onClose.then(() => true), sleep(10_000).then(() => false)]);
    const where = this.#where(session, session.frames.at(-1));
    if (!closedInTime || !session.closed) {
      this.#recorder.violation("close missing", `${where}: expected close ${session.closeExpected}, none within 10 s`);
      session.ws.terminate();
      session.closing = true;
      return;
    }
    session.closing = true;
    this.#closed(session);
    const onItsFrame = session.closed.code === session.closeExpected && session.relaxed === null;
    this.#compare(session, onItsFrame ? "closed" : "at-most");
  }

  /** Accounts for a close the server made. */
  #closed(session: Session): void {
    const recorder = this.#recorder;
    const closed = session.closed;
    if (!closed) return;
    recorder.count(recorder.closes, closed.code);
    const where = this.#where(session, session.frames.at(-1));
    if (!DOCUMENTED_CLOSES.has(closed.code))
      recorder.violation("close code", `${where}: close code ${closed.code} (${closed.reason}) is not documented`);
    const allowed = new Set(session.closeAllowed);
    if (session.closeExpected !== null) allowed.add(session.closeExpected);
    if (!allowed.has(closed.code)) {
      const wanted = session.closeExpected === null ? "no close" : `close ${session.closeExpected}`;
      recorder.violation(
        "close unexpected",
        `${where}: closed ${closed.code} (${closed.reason}), expected ${wanted}; last frames: ${this.recent().slice(-4).join(" | ")}`,
      );
    }
    if (closed.code === CLOSE.rateLimited || closed.code === CLOSE.slowConsumer) session.relaxed ??= `closed ${closed.code}`;
  }

  /** Sends the sentinel, waits until every answer is in, checks the counts exactly, and closes. */
  async #finish(session: Session): Promise<void> {
    session.expect.pongs += 1;
    session.ws.send(SENTINEL_PING);
    // A relaxed session may never get every answer (refused frames): it gets a few seconds, then the at-most check.
    const deadline = Date.now() + (session.relaxed === null ? 15_000 : 3000);
    const settled = () => session.closed !== null || settledTallies(session.expect, session.got);
    while (!settled() && Date.now() < deadline) await sleep(50);
    session.closing = true;
    if (session.closed) {
      this.#closed(session);
      this.#compare(session, "at-most");
      return;
    }
    if (!settled() && session.relaxed === null) {
      this.#recorder.violation(
        "answers missing",
        `${this.#where(session)}: answers still missing 15 s after the sentinel: ${tallyDiff(session)}`,
      );
    }
    this.#compare(session, session.relaxed === null ? "exact" : "at-most");
    session.ws.close(1000, "done");
    await Promise.race([session.onClose, sleep(5000)]);
    if (!session.closed) session.ws.terminate();
  }

  /**
   * Checks a session's answers against the oracle. `exact`: every answer is
   * in (after the sentinel). `closed`: the server closed the socket on the
   * frame that must close it, so the answers the guards and the synchronous
   * handlers give in order (parse errors, pongs) are all in, while acks and
   * token checks (asynchronous) may have been cut off. `at-most`: anything
   * may be missing (a refusal, a close in the middle), nothing may be extra.
   */
  #compare(session: Session, mode: "exact" | "closed" | "at-most"): void {
    const { expect, got } = session;
    const where = this.#where(session);
    const codes = new Set([...expect.errors.keys(), ...got.errors.keys()]);
    const problems: string[] = [];
    const check = (what: string, have: number, want: number, ordered: boolean) => {
      const exact = mode === "exact" || (mode === "closed" && ordered);
      if (exact ? have !== want : have > want) problems.push(`${what}: ${have} for ${want} expected`);
    };
    for (const code of codes) {
      if (code === "rate_limited" || code === "overloaded" || code === "internal") continue;
      check(`error ${code}`, got.errors.get(code) ?? 0, expect.errors.get(code) ?? 0, code !== "unauthorized");
    }
    check("acks", got.acks + (got.errors.get("overloaded") ?? 0), expect.acks, false);
    check("pongs", got.pongs, expect.pongs + expect.receipts, true);
    if (problems.length > 0) {
      this.#recorder.violation(
        `answer counts (${mode})`,
        `${where}: ${mode}: ${problems.join("; ")} (seed ${this.#recorder.seed}; last frames: ${this.recent().slice(-6).join(" | ")})`,
      );
    }
  }
}

function settledTallies(expect: Tally, got: Tally): boolean {
  const overloaded = got.errors.get("overloaded") ?? 0;
  if (got.acks + overloaded !== expect.acks || got.pongs !== expect.pongs + expect.receipts) return false;
  for (const [code, n] of expect.errors) if ((got.errors.get(code) ?? 0) !== n) return false;
  return true;
}

function tallyDiff(session: Session): string {
  const { expect, got } = session;
  return JSON.stringify({
    expect: { ...expect, errors: Object.fromEntries(expect.errors) },
    got: { ...got, errors: Object.fromEntries(got.errors) },
  });
}

/** A short, printable rendering of a frame's data. */
export function describe(frame: Pick<FuzzFrame, "data" | "binary">): string {
  if (typeof frame.data !== "string")
    return `${frame.binary ? "binary" : "bytes"}(${frame.data.length}):${frame.data.subarray(0, 48).toString("hex")}`;
  return preview(JSON.stringify(frame.data));
}

function preview(text: string): string {
  return text.length > 160 ? `${text.slice(0, 120)}…(${text.length} chars)` : text;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
