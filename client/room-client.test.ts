// RoomClient against a fake WebSocket and vitest's fake timers: the backoff
// schedule (full jitter, goaway's retryAfterMs), presence, the typing
// throttle, close codes and bounded memory. The e2e and fault tests run it
// against a real server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLOSE, type Message, type PresenceUser, type ServerFrame } from "../protocol/index.ts";
import { RECENT, RoomClient, type PresenceChange, type RoomClientOptions, type SocketLike } from "./room-client.ts";

type Listener = (event: { data?: unknown; code?: number }) => void;

/** A fake WebSocket: no network; the test plays the server through it. */
class FakeWebSocket implements SocketLike {
  readyState = 0;
  readonly sent: string[] = [];
  closedWith: number | undefined;
  readonly #listeners = new Map<string, Listener[]>();

  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("fake socket not open");
    this.sent.push(data);
  }

  close(code?: number): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 2;
    // As a real socket, the close event comes later.
    queueMicrotask(() => this.serverClose(code ?? 1005));
  }

  addEventListener(type: string, listener: Listener): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener]);
  }

  /** The frames the client sent, parsed. */
  frames(): { type: string }[] {
    return this.sent.map((raw) => JSON.parse(raw) as { type: string });
  }

  serverOpen(): void {
    this.readyState = 1;
    this.#emit("open", {});
  }

  serverSend(frame: ServerFrame): void {
    this.#emit("message", { data: JSON.stringify(frame) });
  }

  serverClose(code: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#emit("close", { code });
  }

  #emit(type: string, event: { data?: unknown; code?: number }): void {
    for (const listener of this.#listeners.get(type) ?? []) listener(event);
  }
}

const alice: PresenceUser = { userId: "u-alice", username: "alice" };
const bob: PresenceUser = { userId: "u-bob", username: "bob" };
const carol: PresenceUser = { userId: "u-carol", username: "carol" };

function welcome(headSeq: number, presence: PresenceUser[] = [alice]): ServerFrame {
  return {
    type: "welcome",
    room: { id: "lobby", name: "Lobby", type: "public", createdAt: "2026-01-01T00:00:00.000Z" },
    user: { id: alice.userId, username: alice.username },
    headSeq,
    presence,
  };
}

function message(seq: number): Message {
  return {
    seq,
    id: `m${seq}`,
    roomId: "lobby",
    userId: bob.userId,
    username: bob.username,
    body: `body ${seq}`,
    clientMsgId: `c${seq}`,
    createdAt: "2026-01-01T00:00:00.000Z",
  };
}

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
      const id = h.client.send(`hello ${seq}`);
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
      const id = h.client.send(`hello ${seq}`);
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
  it("resends what was not acknowledged with the same clientMsgId after a reconnect", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const h = harness();
    await h.client.start();
    const first = h.accept(0);
    const id = h.client.send("hi");
    first.serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    const second = h.accept(0);
    const sends = [...first.frames(), ...second.frames()].filter((f) => f.type === "send");
    expect(sends).toEqual([
      { type: "send", clientMsgId: id, body: "hi" },
      { type: "send", clientMsgId: id, body: "hi" },
    ]);
    h.client.stop();
  });
});
