import { describe, expect, it } from "vitest";
import { CLOSE, DEFAULT_LIMITS, type Room, type ServerFrame } from "../../protocol/index.ts";
import type { TokenCheck } from "../../core/tokens.ts";
import type { SendOutcome } from "./committer.ts";
import { FrameGuards, type GuardLimits } from "./guards.ts";
import { handleFrame, type HandlerParts, type SocketView } from "./handlers.ts";
import { MAX_STRIKES, MessageBudget } from "./rate-limit.ts";
import { closeReply, type Attachment } from "./sessions.ts";

// The guards and the frame handlers as plain objects: sockets that record
// what the room wrote, a committer that answers what the test says, a clock
// the test moves. The same paths run in workerd in chat-room.test.ts.
class RecordingSocket {
  readonly sent: ServerFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  send(text: string): void {
    this.sent.push(JSON.parse(text) as ServerFrame);
  }
  close(code?: number, reason?: string): void {
    this.closed ??= { code: code ?? 1005, reason: reason ?? "" };
  }
}

const room: Room = { id: "r1", name: "r1", type: "public", createdAt: "2026-01-01T00:00:00.000Z" };
const alice: Attachment = { user: { id: "u1", username: "alice" }, exp: 2_000_000, connectedAt: 0 };
const bob: Attachment = { user: { id: "u2", username: "bob" }, exp: 2_000_000, connectedAt: 0 };
const limits: GuardLimits = { ...DEFAULT_LIMITS, maxFrameBytes: 64, authGraceMs: 1000 };

describe("FrameGuards", () => {
  const clock = { now: 1_000_000_000 };
  const guards = () => new FrameGuards(limits, new MessageBudget({ rateLimitPerSecond: 1, rateLimitBurst: 2 }), () => clock.now);

  it("closes binary frames 1003 and oversized ones 1009", () => {
    const ws = new RecordingSocket();
    expect(guards().admit(ws, new ArrayBuffer(1), alice, room)).toBeNull();
    expect(ws.closed?.code).toBe(CLOSE.unsupportedData);
    const big = new RecordingSocket();
    expect(guards().admit(big, JSON.stringify({ type: "send", clientMsgId: "a", body: "é".repeat(40) }), alice, room)).toBeNull();
    expect(big.closed?.code).toBe(CLOSE.tooBig);
  });

  it("closes 1011 when the socket's session is unknown, and 4401 past the token's grace", () => {
    const lost = new RecordingSocket();
    expect(guards().admit(lost, '{"type":"ping"}', null, room)).toBeNull();
    expect(lost.closed?.code).toBe(CLOSE.internal);
    const expired = new RecordingSocket();
    const old = { ...alice, exp: Math.floor(clock.now / 1000) - 2 };
    expect(guards().admit(expired, '{"type":"ping"}', old, room)).toBeNull();
    expect(expired.closed?.code).toBe(CLOSE.unauthorized);
  });

  it("answers a malformed frame with an error and keeps the socket", () => {
    const ws = new RecordingSocket();
    expect(guards().admit(ws, '{"type":"send","body":1}', alice, room)).toBeNull();
    expect(ws.sent[0]).toMatchObject({ type: "error" });
    expect(ws.closed).toBeUndefined();
  });

  it("refuses past the burst with rate_limited, then closes 4429 when the client keeps pushing", () => {
    const ws = new RecordingSocket();
    const g = guards();
    expect(g.admit(ws, '{"type":"ping"}', alice, room)?.frame).toEqual({ type: "ping" });
    expect(g.admit(ws, '{"type":"ping"}', alice, room)).not.toBeNull();
    for (let i = 0; i < MAX_STRIKES; i++) expect(g.admit(ws, '{"type":"ping"}', alice, room)).toBeNull();
    expect(ws.sent.filter((f) => f.type === "error" && f.code === "rate_limited").length).toBe(MAX_STRIKES - 1);
    expect(ws.closed?.code).toBe(CLOSE.rateLimited);
  });

  it("holds one user's sockets to one budget, and closes only the socket that keeps pushing", () => {
    const g = guards();
    const tab1 = new RecordingSocket();
    const tab2 = new RecordingSocket();
    const other = new RecordingSocket();
    expect(g.admit(tab1, '{"type":"ping"}', alice, room)).not.toBeNull();
    expect(g.admit(tab2, '{"type":"ping"}', alice, room)).not.toBeNull();
    expect(g.admit(tab2, '{"type":"ping"}', alice, room)).toBeNull();
    expect(tab2.sent).toEqual([{ type: "error", code: "rate_limited", message: "slow down" }]);
    expect(g.admit(other, '{"type":"ping"}', bob, room)).not.toBeNull();
    for (let i = 0; i < MAX_STRIKES; i++) g.admit(tab1, '{"type":"ping"}', alice, room);
    expect(tab1.closed?.code).toBe(CLOSE.rateLimited);
    expect(tab2.closed).toBeUndefined();
  });

  it("takes a token before parsing, so a junk frame costs one too", () => {
    const g = guards();
    const ws = new RecordingSocket();
    expect(g.admit(ws, "not json", alice, room)).toBeNull();
    expect(g.admit(ws, "not json", alice, room)).toBeNull();
    expect(ws.sent.map((f) => f.type === "error" && f.code)).toEqual(["bad_request", "bad_request"]);
    expect(g.admit(ws, '{"type":"ping"}', alice, room)).toBeNull();
    expect(ws.sent.at(-1)).toMatchObject({ code: "rate_limited" });
  });
});

describe("handleFrame", () => {
  function parts(outcome: SendOutcome, sockets: RecordingSocket[] = []) {
    const attachments = new Map<RecordingSocket, Attachment>();
    const goaways: number[] = [];
    const view: SocketView<RecordingSocket> = {
      open: () => sockets,
      attachment: (ws) => attachments.get(ws) ?? null,
      attach: (ws, a) => void attachments.set(ws, a),
      receipt: () => true,
    };
    const handlerParts: HandlerParts<RecordingSocket> = {
      sockets: view,
      committer: { accept: async () => outcome, visibleHead: () => 7 },
      replay: async () => {},
      verify: async (token): Promise<TokenCheck> =>
        token === "good" ? { ok: true, identity: { user: alice.user, exp: 3_000_000 } } : { ok: false, reason: "invalid" },
      goaway: (ws, code) => {
        goaways.push(code);
        ws.close(code, "goaway");
      },
    };
    return { handlerParts, attachments, goaways };
  }
  const sendFrame = { type: "send", clientMsgId: "c1", body: "hi" } as const;

  it("acks a stored message and a duplicate with their seqs", async () => {
    const message = { seq: 3, id: "m", roomId: "r1", userId: "u1", username: "alice", body: "hi", clientMsgId: "c1", createdAt: "x" };
    const ws = new RecordingSocket();
    await handleFrame(parts({ kind: "stored", message }).handlerParts, ws, alice, room, sendFrame);
    await handleFrame(parts({ kind: "duplicate", seq: 3 }).handlerParts, ws, alice, room, sendFrame);
    expect(ws.sent).toEqual([
      { type: "ack", clientMsgId: "c1", seq: 3 },
      { type: "ack", clientMsgId: "c1", seq: 3 },
    ]);
  });

  it("tells the sender to retry when the room is full or PostgreSQL did not commit, and to reconnect when the room moved", async () => {
    const full = new RecordingSocket();
    await handleFrame(parts({ kind: "overloaded" }).handlerParts, full, alice, room, sendFrame);
    expect(full.sent).toEqual([{ type: "error", code: "overloaded", message: expect.stringContaining("retry later") }]);
    const down = new RecordingSocket();
    await handleFrame(parts({ kind: "unavailable" }).handlerParts, down, alice, room, sendFrame);
    expect(down.sent).toEqual([{ type: "error", code: "overloaded", message: expect.stringContaining("database unavailable") }]);
    const moved = new RecordingSocket();
    const p = parts({ kind: "moved" });
    await handleFrame(p.handlerParts, moved, alice, room, sendFrame);
    expect(p.goaways).toEqual([CLOSE.serviceRestart]);
    expect(moved.sent).toEqual([]);
  });

  it("sends typing to the other users' sockets only", async () => {
    const mine = new RecordingSocket();
    const myOtherTab = new RecordingSocket();
    const theirs = new RecordingSocket();
    const p = parts({ kind: "overloaded" }, [mine, myOtherTab, theirs]);
    p.attachments.set(mine, alice).set(myOtherTab, alice).set(theirs, bob);
    await handleFrame(p.handlerParts, mine, alice, room, { type: "typing" });
    expect(theirs.sent).toEqual([{ type: "typing", user: { userId: "u1", username: "alice" } }]);
    expect([...mine.sent, ...myOtherTab.sent]).toEqual([]);
  });

  it("extends a socket's life on a fresh token for the same user and refuses anything else", async () => {
    const ws = new RecordingSocket();
    const p = parts({ kind: "overloaded" }, [ws]);
    await handleFrame(p.handlerParts, ws, alice, room, { type: "auth", token: "good" });
    expect(p.attachments.get(ws)?.exp).toBe(3_000_000);
    await handleFrame(p.handlerParts, ws, bob, room, { type: "auth", token: "good" });
    await handleFrame(p.handlerParts, ws, alice, room, { type: "auth", token: "bad" });
    expect(ws.sent).toEqual([
      { type: "error", code: "unauthorized", message: "token refused" },
      { type: "error", code: "unauthorized", message: "token refused" },
    ]);
  });

  it("answers ping with pong", async () => {
    const ws = new RecordingSocket();
    await handleFrame(parts({ kind: "overloaded" }).handlerParts, ws, alice, room, { type: "ping", lastSeq: 7 });
    expect(ws.sent).toEqual([{ type: "pong" }]);
  });
});

describe("closeReply", () => {
  it("echoes codes a peer may send, answers 1005/1006 with 1000 and any other with 1002", () => {
    expect([1000, 1001, 1003, 1007, 1011, 1014, 3000, 4001, 4999].map(closeReply)).toEqual([
      1000, 1001, 1003, 1007, 1011, 1014, 3000, 4001, 4999,
    ]);
    expect([1005, 1006].map(closeReply)).toEqual([1000, 1000]);
    expect([0, 999, 1004, 1015, 1016, 2999, 5000].map(closeReply)).toEqual([1002, 1002, 1002, 1002, 1002, 1002, 1002]);
  });
});
