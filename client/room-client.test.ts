// RoomClient against a fake WebSocket and vitest's fake timers: the backoff
// schedule (full jitter, goaway's retryAfterMs), presence, the typing
// throttle, close codes and bounded memory. The e2e and fault tests run it
// against a real server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLOSE, type PresenceUser } from "../protocol/index.ts";
import { alice, bob, carol, FakeWebSocket, message, welcome } from "./fake-socket.ts";
import { RoomcastApiError } from "./api.ts";
import { RECENT, RoomClient, type PresenceChange, type RoomClientOptions } from "./room-client.ts";

/** A client whose sockets are fake ones, listed in order of opening. */
function harness(options: Partial<RoomClientOptions> = {}) {
  const sockets: FakeWebSocket[] = [];
  const client = new RoomClient({
    url: "ws://fake/rooms/lobby/ws",
    open: (url) => {
      const socket = new FakeWebSocket(url);
      sockets.push(socket);
      return socket;
    },
    heartbeatMs: 0,
    ...options,
  });
  const last = (): FakeWebSocket => {
    const socket = sockets.at(-1);
    if (!socket) throw new Error("no socket opened");
    return socket;
  };
  /** Opens the newest socket and welcomes it. */
  const accept = (headSeq = 0, presence?: PresenceUser[]): FakeWebSocket => {
    const socket = last();
    socket.serverOpen();
    socket.serverSend(welcome(headSeq, presence));
    return socket;
  };
  return { client, sockets, last, accept };
}

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("reconnect schedule", () => {
  /** Advances to just before `ms` and checks no socket opened, then to `ms` and checks one did. */
  async function expectReconnectAfter(h: ReturnType<typeof harness>, ms: number): Promise<void> {
    const before = h.sockets.length;
    if (ms >= 1) {
      await vi.advanceTimersByTimeAsync(ms - 1);
      expect(h.sockets.length, `no reconnect before ${ms} ms`).toBe(before);
    }
    await vi.advanceTimersByTimeAsync(ms >= 1 ? 1 : 0);
    expect(h.sockets.length, `a reconnect at ${ms} ms`).toBe(before + 1);
  }

  it("backs off exponentially with full jitter: random() × min(maxMs, minMs × 2^attempt)", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    const h = harness({ backoff: { minMs: 250, maxMs: 4000 } });
    await h.client.start();
    // Half of each ceiling: 250, 500, 1000, 2000, 4000, then capped at 4000.
    for (const ms of [125, 250, 500, 1000, 2000, 2000, 2000]) {
      h.last().serverClose(1006);
      await expectReconnectAfter(h, ms);
    }
    // Full jitter reaches down to zero and up to just under the ceiling.
    random.mockReturnValue(0);
    h.last().serverClose(1006);
    await expectReconnectAfter(h, 0);
    random.mockReturnValue(0.999);
    h.last().serverClose(1006);
    await expectReconnectAfter(h, Math.ceil(0.999 * 4000));
    h.client.stop();
  });

  it("starts again from the first step after a welcome, and resumes from the last seq", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const h = harness({ backoff: { minMs: 1000, maxMs: 60_000 } });
    await h.client.start();
    expect(h.last().url).toBe("ws://fake/rooms/lobby/ws");
    for (const ms of [500, 1000, 2000]) {
      h.last().serverClose(1006);
      await expectReconnectAfter(h, ms);
    }
    h.accept(7);
    h.last().serverSend({ type: "message", ...message(8) });
    h.last().serverClose(CLOSE.serviceRestart);
    await expectReconnectAfter(h, 500);
    expect(h.last().url).toBe("ws://fake/rooms/lobby/ws?lastSeq=8");
    h.client.stop();
  });

  it("after goaway waits at least retryAfterMs (up to a fifth more), closing the socket itself with 1000", async () => {
    const random = vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness({ backoff: { minMs: 250, maxMs: 10_000 } });
    await h.client.start();
    const first = h.accept(0);
    first.serverSend({ type: "goaway", retryAfterMs: 5000 });
    expect(first.closedWith).toBe(CLOSE.normal);
    await expectReconnectAfter(h, 5000);

    random.mockReturnValue(0.5);
    h.accept(0).serverSend({ type: "goaway", retryAfterMs: 5000 });
    await expectReconnectAfter(h, 5500);
    // The goaway's delay is used once: a failure after it backs off as usual
    // (attempt 1 since the welcome: half of 500 ms).
    h.last().serverClose(1006);
    await expectReconnectAfter(h, 250);
    h.client.stop();
  });

  it("stops for good after 4401 or 4403, and after stop()", async () => {
    for (const code of [CLOSE.unauthorized, CLOSE.forbidden]) {
      const h = harness();
      await h.client.start();
      h.accept(0);
      h.last().serverClose(code);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(h.sockets).toHaveLength(1);
      expect(h.client.closes).toEqual([code]);
    }
    const h = harness();
    await h.client.start();
    h.last().serverClose(1006);
    h.client.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.sockets).toHaveLength(1);
  });

  it("gives up on a socket not welcomed in time with 4000 (not counted as a close) and tries again", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const h = harness({ connectTimeoutMs: 3000, backoff: { minMs: 200, maxMs: 1000 } });
    await h.client.start();
    h.last().serverOpen();
    await vi.advanceTimersByTimeAsync(3000);
    expect(h.sockets[0]?.closedWith).toBe(CLOSE.resync);
    await expectReconnectAfter(h, 100);
    expect(h.client.closes).toEqual([]);
    h.client.stop();
  });
});

describe("presence", () => {
  it("is a map by user id from welcome, kept by join and leave, replaced by the next welcome", async () => {
    const changes: PresenceChange[] = [];
    const h = harness({ onPresence: (change) => changes.push(change) });
    await h.client.start();
    expect(h.client.presence.size).toBe(0);
    const socket = h.accept(0, [alice, bob]);
    expect([...h.client.presence.keys()]).toEqual([alice.userId, bob.userId]);
    expect(h.client.presence.get(bob.userId)).toEqual(bob);

    socket.serverSend({ type: "presence", event: "join", user: carol });
    socket.serverSend({ type: "presence", event: "join", user: carol });
    socket.serverSend({ type: "presence", event: "leave", user: bob });
    expect([...h.client.presence.values()]).toEqual([alice, carol]);
    expect(changes).toEqual([
      { event: "welcome", users: [alice, bob] },
      { event: "join", user: carol },
      { event: "join", user: carol },
      { event: "leave", user: bob },
    ]);

    socket.serverClose(1006);
    await vi.advanceTimersByTimeAsync(10_000);
    h.accept(0, [alice]);
    expect([...h.client.presence.values()]).toEqual([alice]);
    h.client.stop();
  });

  it("hands other users' typing frames to onTyping", async () => {
    const typing: PresenceUser[] = [];
    const h = harness({ onTyping: (user) => typing.push(user) });
    await h.client.start();
    h.accept(0, [alice, bob]).serverSend({ type: "typing", user: bob });
    expect(typing).toEqual([bob]);
    h.client.stop();
  });
});

describe("typing()", () => {
  const typingFrames = (socket: FakeWebSocket) => socket.frames().filter((f) => f.type === "typing").length;

  it("sends at most one typing frame per 3 s by default", async () => {
    const h = harness();
    await h.client.start();
    const socket = h.accept(0);
    expect(h.client.typing()).toBe(true);
    expect(socket.sent.at(-1)).toBe('{"type":"typing"}');
    for (let i = 0; i < 29; i++) {
      await vi.advanceTimersByTimeAsync(100);
      expect(h.client.typing()).toBe(false);
    }
    expect(typingFrames(socket)).toBe(1);
    await vi.advanceTimersByTimeAsync(100);
    expect(h.client.typing()).toBe(true);
    expect(typingFrames(socket)).toBe(2);
    h.client.stop();
  });

  it("announces typing again at the first keystroke after a send (receivers clear it on the message)", async () => {
    const h = harness();
    await h.client.start();
    const socket = h.accept(0);
    expect(h.client.typing()).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    void h.client.send("hello");
    expect(h.client.typing()).toBe(true);
    expect(h.client.typing()).toBe(false);
    expect(typingFrames(socket)).toBe(2);
    h.client.stop();
  });

  it("honours typingThrottleMs and sends nothing without a welcomed socket", async () => {
    const h = harness({ typingThrottleMs: 500 });
    await h.client.start();
    expect(h.client.typing()).toBe(false);
    h.last().serverOpen();
    expect(h.client.typing()).toBe(false);
    h.last().serverSend(welcome(0));
    expect(h.client.typing()).toBe(true);
    await vi.advanceTimersByTimeAsync(499);
    expect(h.client.typing()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.client.typing()).toBe(true);
    expect(typingFrames(h.last())).toBe(2);
    h.client.stop();
  });
});

describe("memory", () => {
  it("keeps no delivered message and only the newest acks outside test mode", async () => {
    const delivered: number[] = [];
    const acks: [string, number][] = [];
    const h = harness({ onMessage: (m) => delivered.push(m.seq), onAck: (id, seq) => acks.push([id, seq]) });
    await h.client.start();
    const socket = h.accept(0);
    const total = RECENT + 500;
    for (let seq = 1; seq <= total; seq++) {
      const id = `s${seq}`;
      void h.client.send(`hello ${seq}`, id);
      socket.serverSend({ type: "ack", clientMsgId: id, seq });
      socket.serverSend({ type: "ack", clientMsgId: id, seq });
      socket.serverSend({ type: "message", ...message(seq) });
    }
    expect(delivered).toHaveLength(total);
    expect(acks).toHaveLength(total);
    expect(h.client.lastSeq).toBe(total);
    expect(h.client.received.size).toBe(0);
    expect(h.client.pending.size).toBe(0);
    expect(h.client.acked.size).toBe(RECENT);
    expect(h.client.ackLatencies).toHaveLength(RECENT);
    expect([...h.client.acked.values()].at(-1)).toBe(total);
    h.client.stop();
  });

  it("keeps everything with record: true (the tests' mode)", async () => {
    const h = harness({ record: true });
    await h.client.start();
    const socket = h.accept(0);
    const total = RECENT + 10;
    for (let seq = 1; seq <= total; seq++) {
      const id = `s${seq}`;
      void h.client.send(`hello ${seq}`, id);
      socket.serverSend({ type: "ack", clientMsgId: id, seq });
      socket.serverSend({ type: "message", ...message(seq) });
    }
    expect(h.client.received.size).toBe(total);
    expect(h.client.received.get(1)).toEqual(message(1));
    expect(h.client.acked.size).toBe(total);
    expect(h.client.ackLatencies).toHaveLength(total);
    h.client.stop();
  });

  it("holds messages behind a gap until it fills, delivering once and in order", async () => {
    const delivered: number[] = [];
    const fill = vi.fn(async (after: number) => (after < 3 ? [message(3), message(4)] : []));
    const h = harness({ history: fill, onMessage: (m) => delivered.push(m.seq) });
    await h.client.start();
    const socket = h.accept(2);
    socket.serverSend({ type: "resync_required", fromSeq: 3 });
    socket.serverSend({ type: "message", ...message(5) });
    socket.serverSend({ type: "message", ...message(4) });
    expect(h.client.received.size).toBe(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(fill).toHaveBeenCalledWith(2);
    expect(delivered).toEqual([3, 4, 5]);
    expect(h.client.received.size).toBe(0);
    expect(h.client.resyncs).toEqual([3]);
    h.client.stop();
  });

  it("drops the socket and resumes when more than maxAhead messages wait behind a gap", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const h = harness({ maxAhead: 5 });
    await h.client.start();
    const socket = h.accept(2);
    for (let seq = 4; seq <= 8; seq++) socket.serverSend({ type: "message", ...message(seq) });
    expect(h.client.received.size).toBe(5);
    expect(socket.closedWith).toBeUndefined();
    socket.serverSend({ type: "message", ...message(9) });
    expect(socket.closedWith).toBe(CLOSE.resync);
    expect(h.client.received.size).toBe(0);
    await vi.advanceTimersByTimeAsync(125);
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe("ws://fake/rooms/lobby/ws?lastSeq=2");
    h.client.stop();
  });

  it("keeps only the newest close codes outside test mode", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness();
    await h.client.start();
    for (let i = 0; i < RECENT + 5; i++) {
      h.last().serverClose(i === RECENT + 4 ? CLOSE.overloaded : 1006);
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(h.client.closes).toHaveLength(RECENT);
    expect(h.client.closes.at(-1)).toBe(CLOSE.overloaded);
    h.client.stop();
  });
});

describe("sends", () => {
  it("send() resolves with the seq of its ack; a repeated ack changes nothing", async () => {
    const acks: number[] = [];
    const h = harness({ onAck: (_id, seq) => acks.push(seq) });
    await h.client.start();
    const socket = h.accept(0);
    const sent = h.client.send("hi", "c1");
    expect(socket.frames().at(-1)).toEqual({ type: "send", clientMsgId: "c1", body: "hi" });
    socket.serverSend({ type: "ack", clientMsgId: "c1", seq: 1 });
    socket.serverSend({ type: "ack", clientMsgId: "c1", seq: 1 });
    await expect(sent).resolves.toBe(1);
    expect(acks).toEqual([1]);
    expect(h.client.pending.size).toBe(0);
    h.client.stop();
  });

  it("resends what was not acknowledged with the same clientMsgId after a reconnect; the duplicate's ack resolves it once", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const acks: number[] = [];
    const h = harness({ onAck: (_id, seq) => acks.push(seq) });
    await h.client.start();
    const first = h.accept(0);
    const sent = h.client.send("hi");
    const queued = h.client.send("while away");
    const [id] = h.client.pending.keys();
    first.serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    // Stored before the drop: the server answers the resend with the first seq.
    const second = h.accept(1);
    const sends = [...first.frames(), ...second.frames()].filter((f) => f.type === "send");
    expect(sends.map((f) => f.clientMsgId)).toEqual([id, [...h.client.pending.keys()][1], id, [...h.client.pending.keys()][1]]);
    expect(sends[0]).toEqual(sends[2]);
    second.serverSend({ type: "ack", clientMsgId: String(id), seq: 1 });
    second.serverSend({ type: "ack", clientMsgId: String(sends[1]?.clientMsgId), seq: 2 });
    await expect(sent).resolves.toBe(1);
    await expect(queued).resolves.toBe(2);
    expect(acks).toEqual([1, 2]);
    h.client.stop();
  });

  it("sends made before the first welcome go out on it", async () => {
    const h = harness();
    await h.client.start();
    const sent = h.client.send("early", "e1");
    expect(h.last().sent).toEqual([]);
    const socket = h.accept(4);
    expect(socket.frames()).toEqual([{ type: "send", clientMsgId: "e1", body: "early" }]);
    socket.serverSend({ type: "ack", clientMsgId: "e1", seq: 5 });
    await expect(sent).resolves.toBe(5);
    h.client.stop();
  });

  it("sends nothing on a new socket before its welcome, and each pending send once after it", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness();
    await h.client.start();
    h.accept(0).serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.last();
    socket.serverOpen();
    void h.client.send("between", "b1");
    expect(h.client.connected).toBe(false);
    expect(socket.sent).toEqual([]);
    socket.serverSend(welcome(0));
    expect(h.client.connected).toBe(true);
    expect(socket.frames()).toEqual([{ type: "send", clientMsgId: "b1", body: "between" }]);
    h.client.stop();
  });

  it("rejects what is pending with `stopped` on stop(), and later sends at once", async () => {
    const h = harness();
    await h.client.start();
    h.accept(0);
    const sent = h.client.send("hi");
    h.client.stop();
    await expect(sent).rejects.toMatchObject({ name: "RoomClientError", code: "stopped" });
    await expect(h.client.send("after")).rejects.toMatchObject({ code: "stopped" });
    expect(h.client.pending.size).toBe(0);
    expect(h.client.failure).toBeUndefined();
  });

  it("never leaves an unhandled rejection when the caller ignores the promise", async () => {
    vi.useRealTimers();
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      const h = harness();
      await h.client.start();
      h.accept(0);
      void h.client.send("ignored");
      void h.client.send("x".repeat(5000));
      h.client.stop();
      void h.client.send("after stop");
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off("unhandledRejection", listener);
    }
    expect(unhandled).toEqual([]);
  });

  it("refuses before sending what the contract refuses: a body over the limit, U+0000, an empty body, a frame over the byte limit", async () => {
    const h = harness({ limits: { maxBodyChars: 10, maxFrameBytes: 120 } });
    await h.client.start();
    const socket = h.accept(0);
    await expect(h.client.send("x".repeat(11))).rejects.toMatchObject({ code: "body_too_long" });
    await expect(h.client.send("a\u0000b")).rejects.toMatchObject({ code: "bad_request" });
    await expect(h.client.send("")).rejects.toMatchObject({ code: "bad_request" });
    await expect(h.client.send("ok", "y".repeat(65))).rejects.toMatchObject({ code: "bad_request" });
    // Ten control characters fit the body limit, but JSON escapes each to six bytes.
    await expect(h.client.send("\u0001".repeat(10), "z".repeat(40))).rejects.toMatchObject({ code: "body_too_long" });
    expect(socket.sent).toEqual([]);
    expect(h.client.pending.size).toBe(0);
    h.client.stop();
  });

  it("a server limit below its own: body_too_long rejects the sends longer than the limit it names, and later ones before they leave", async () => {
    const h = harness();
    await h.client.start();
    const socket = h.accept(0);
    const long = h.client.send("x".repeat(200), "long");
    const short = h.client.send("hi", "short");
    socket.serverSend({ type: "error", code: "body_too_long", message: "body is longer than 100 characters" });
    await expect(long).rejects.toMatchObject({ code: "body_too_long" });
    expect([...h.client.pending.keys()]).toEqual(["short"]);
    socket.serverSend({ type: "ack", clientMsgId: "short", seq: 1 });
    await expect(short).resolves.toBe(1);
    await expect(h.client.send("y".repeat(101))).rejects.toMatchObject({ code: "body_too_long" });
    h.client.stop();
  });

  it("keeps sends pending through overloaded, rate_limited and internal errors and sends them again a second later", async () => {
    const h = harness();
    await h.client.start();
    const socket = h.accept(0);
    const sent = h.client.send("hi", "c1");
    socket.serverSend({ type: "error", code: "overloaded", message: "retry later" });
    await vi.advanceTimersByTimeAsync(999);
    expect(socket.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.sent).toHaveLength(2);
    socket.serverSend({ type: "ack", clientMsgId: "c1", seq: 1 });
    await expect(sent).resolves.toBe(1);
    h.client.stop();
  });

  it("after a 1009 close rejects the largest pending send and resends the rest", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness();
    await h.client.start();
    h.accept(0);
    const big = h.client.send("x".repeat(3000), "big");
    const small = h.client.send("hi", "small");
    h.last().serverClose(CLOSE.tooBig);
    await expect(big).rejects.toMatchObject({ code: "body_too_long" });
    await vi.advanceTimersByTimeAsync(0);
    const socket = h.accept(0);
    expect(socket.frames()).toEqual([{ type: "send", clientMsgId: "small", body: "hi" }]);
    socket.serverSend({ type: "ack", clientMsgId: "small", seq: 1 });
    await expect(small).resolves.toBe(1);
    h.client.stop();
  });
});

describe("state", () => {
  it("closed → connecting → open → reconnecting → open → closed, each change reported once", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const states: string[] = [];
    const h = harness({ onState: (state) => states.push(state) });
    expect(h.client.state).toBe("closed");
    await h.client.start();
    expect(h.client.state).toBe("connecting");
    // A failure before the first welcome is still connecting.
    h.last().serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    h.accept(0);
    expect(h.client.state).toBe("open");
    expect(h.client.connected).toBe(true);
    h.last().serverClose(1006);
    expect(h.client.state).toBe("reconnecting");
    expect(h.client.connected).toBe(false);
    await vi.advanceTimersByTimeAsync(0);
    h.accept(0);
    h.last().serverSend({ type: "goaway", retryAfterMs: 1000 });
    expect(h.client.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1000);
    h.accept(0);
    h.client.stop();
    expect(states).toEqual(["connecting", "open", "reconnecting", "open", "reconnecting", "open", "closed"]);
  });

  it("closed for good by 4401 or 4403: failure says why and pending sends reject with it", async () => {
    for (const [code, reason] of [
      [CLOSE.unauthorized, "unauthorized"],
      [CLOSE.forbidden, "forbidden"],
    ] as const) {
      const h = harness();
      await h.client.start();
      h.accept(0);
      const sent = h.client.send("hi");
      h.last().serverClose(code);
      expect(h.client.state).toBe("closed");
      expect(h.client.failure).toMatchObject({ code: reason });
      await expect(sent).rejects.toMatchObject({ code: reason });
    }
  });

  it("with retryUnauthorized, 4401 reconnects (the next open authenticates afresh)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness({ retryUnauthorized: true });
    await h.client.start();
    h.accept(0);
    h.last().serverClose(CLOSE.unauthorized);
    expect(h.client.state).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.sockets).toHaveLength(2);
    h.client.stop();
  });

  it("an open refused with a 4xx RoomcastApiError closes for good; a 5xx waits its Retry-After, then tries again", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const refusals = [new RoomcastApiError(503, "overloaded", "busy", 3000), new RoomcastApiError(401, "unauthorized", "who?")];
    const opens: string[] = [];
    const client = new RoomClient({
      url: "ws://fake/rooms/lobby/ws",
      heartbeatMs: 0,
      open: (url) => {
        opens.push(url);
        const refusal = refusals.shift();
        if (refusal) throw refusal;
        return new FakeWebSocket(url);
      },
    });
    const sent = client.send("hi");
    await client.start();
    expect(opens).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(opens).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(opens).toHaveLength(2);
    expect(client.state).toBe("closed");
    expect(client.failure).toMatchObject({ code: "unauthorized", cause: { status: 401 } });
    await expect(sent).rejects.toMatchObject({ code: "unauthorized" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(opens).toHaveLength(2);
  });
});

describe("token renewal on the open socket", () => {
  it("sends a fresher token beforeMs ahead of expiry, and never one that is not fresher", async () => {
    let expiresAt = Date.now() + 10_000;
    const tokens = [
      { token: "same", expiresAt },
      { token: "fresh", expiresAt: expiresAt + 60_000 },
    ];
    const fresh = vi.fn(async () => tokens.shift() ?? { token: "later", expiresAt: expiresAt + 120_000 });
    const h = harness({ renew: { expiresAt: () => expiresAt, beforeMs: 2000, fresh } });
    await h.client.start();
    const socket = h.accept(0);
    await vi.advanceTimersByTimeAsync(7999);
    expect(fresh).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(fresh).toHaveBeenCalledTimes(1);
    expect(socket.frames().filter((f) => f.type === "auth")).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(fresh).toHaveBeenCalledTimes(2);
    expect(socket.frames().filter((f) => f.type === "auth")).toEqual([{ type: "auth", token: "fresh" }]);
    expiresAt += 60_000;
    h.client.stop();
  });
});

describe("heartbeat", () => {
  it("pings every heartbeatMs with a read receipt when lastSeq moved (and every fourth beat), else the plain ping", async () => {
    const h = harness({ heartbeatMs: 1000, pongTimeoutMs: 5000 });
    await h.client.start();
    const socket = h.accept(2);
    const pings = () => socket.sent.filter((raw) => raw.includes('"ping"'));
    await vi.advanceTimersByTimeAsync(1000);
    expect(pings()).toEqual(['{"type":"ping","lastSeq":2}']);
    socket.serverSend({ type: "pong" });
    await vi.advanceTimersByTimeAsync(1000);
    expect(pings().at(-1)).toBe('{"type":"ping"}');
    socket.serverSend({ type: "message", ...message(3) });
    await vi.advanceTimersByTimeAsync(1000);
    expect(pings().at(-1)).toBe('{"type":"ping","lastSeq":3}');
    await vi.advanceTimersByTimeAsync(1000);
    expect(pings().at(-1), "the fourth beat carries the receipt again").toBe('{"type":"ping","lastSeq":3}');
    expect(pings()).toHaveLength(4);
    h.client.stop();
  });

  it("gives up on a socket with no pong within pongTimeoutMs (4000, not counted) and reconnects; a pong in time keeps it", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const h = harness({ heartbeatMs: 1000, pongTimeoutMs: 500 });
    await h.client.start();
    const socket = h.accept(2);
    await vi.advanceTimersByTimeAsync(1400);
    socket.serverSend({ type: "pong" });
    await vi.advanceTimersByTimeAsync(200);
    expect(socket.closedWith, "answered in time").toBeUndefined();
    await vi.advanceTimersByTimeAsync(1000 + 500);
    expect(socket.closedWith).toBe(CLOSE.resync);
    expect(h.client.closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(125);
    expect(h.sockets).toHaveLength(2);
    expect(h.last().url).toBe("ws://fake/rooms/lobby/ws?lastSeq=2");
    h.client.stop();
  });
});
