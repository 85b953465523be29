// connectRoom with a fake fetch and a fake WebSocket class, on vitest's fake
// timers: the token provider on every reconnect, tickets, refusals for good
// against retries, the resync fill and renewal. client/real-server.test.ts
// runs it against a real server.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLOSE } from "../protocol/codes.ts";
import { connectRoom, type ConnectRoomOptions } from "./connect.ts";
import { fakeFetch, unsignedJwt, type Answer, type Call } from "./fake-fetch.ts";
import { FakeWebSocket, message, welcome } from "./fake-socket.ts";

const SERVER = "http://chat.test";

/** A client of room `lobby` on {@link SERVER} whose requests `answer` answers; tickets are `t1`, `t2`, … unless it answers them. */
function harness(answer: (call: Call) => Answer | undefined = () => undefined, options: Partial<ConnectRoomOptions> = {}) {
  let tickets = 0;
  const { fetch, calls } = fakeFetch((call) => {
    const given = answer(call);
    if (given) return given;
    if (call.path === "/auth/ticket") return { status: 200, json: { ticket: `t${++tickets}`, expiresAt: "2026-01-01T00:00:30.000Z" } };
    return { status: 404, json: { error: { code: "not_found", message: `no ${call.path}` } } };
  });
  let tokens = 0;
  const token = vi.fn(() => `token-${++tokens}`);
  const client = connectRoom({ server: SERVER, room: "lobby", token, fetch, WebSocket: FakeWebSocket, heartbeatMs: 0, ...options });
  const socket = (i: number) => {
    const found = FakeWebSocket.opened[i];
    if (!found) throw new Error(`no socket ${i}`);
    return found;
  };
  return { client, calls, token, socket };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.opened.length = 0;
  vi.spyOn(Math, "random").mockReturnValue(0);
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("connectRoom", () => {
  it("calls token() on every (re)connect, buys a ticket with it, and opens the room with the ticket and lastSeq", async () => {
    const h = harness();
    await h.client.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.socket(0).url).toBe("ws://chat.test/rooms/lobby/ws?ticket=t1");
    h.socket(0).serverOpen();
    h.socket(0).serverSend(welcome(5));
    h.socket(0).serverSend({ type: "message", ...message(6) });
    h.socket(0).serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.socket(1).url).toBe("ws://chat.test/rooms/lobby/ws?lastSeq=6&ticket=t2");
    h.socket(1).serverOpen();
    h.socket(1).serverSend(welcome(6));
    // A token that expired on the open socket: reconnect with a fresh one.
    h.socket(1).serverClose(CLOSE.unauthorized);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.socket(2).url).toBe("ws://chat.test/rooms/lobby/ws?lastSeq=6&ticket=t3");
    expect(h.token).toHaveBeenCalledTimes(3);
    expect(h.calls.map((c) => [c.method, c.path, c.authorization])).toEqual([
      ["POST", "/auth/ticket", "Bearer token-1"],
      ["POST", "/auth/ticket", "Bearer token-2"],
      ["POST", "/auth/ticket", "Bearer token-3"],
    ]);
    h.client.stop();
  });

  it("uses wss: for an https: server", async () => {
    const { fetch } = fakeFetch(() => ({ status: 200, json: { ticket: "t", expiresAt: "2026-01-01T00:00:30.000Z" } }));
    const client = connectRoom({ server: "https://chat.test/", room: "a b", token: () => "x", fetch, WebSocket: FakeWebSocket });
    await client.start();
    expect(FakeWebSocket.opened[0]?.url).toBe("wss://chat.test/rooms/a%20b/ws?ticket=t");
    client.stop();
  });

  it("a ticket refused with 401 closes the client for good: state closed, failure set, pending sends rejected, no more tries", async () => {
    const states: string[] = [];
    const h = harness(() => ({ status: 401, json: { error: { code: "token_expired", message: "token expired" } } }), {
      onState: (state) => states.push(state),
    });
    const sent = h.client.send("hi");
    await h.client.start();
    expect(h.client.state).toBe("closed");
    expect(h.client.failure).toMatchObject({ code: "token_expired", cause: { status: 401 } });
    await expect(sent).rejects.toMatchObject({ code: "token_expired" });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.calls).toHaveLength(1);
    expect(FakeWebSocket.opened).toHaveLength(0);
    expect(states).toEqual(["connecting", "closed"]);
  });

  it("retries 429 after its Retry-After, and network errors and 5xx with backoff", async () => {
    const answers: Answer[] = [
      { status: 429, json: { error: { code: "rate_limited", message: "slow down" } }, headers: { "Retry-After": "5" } },
      new TypeError("fetch failed"),
      { status: 502, json: "<html>bad gateway</html>" },
    ];
    const h = harness((call) => (call.path === "/auth/ticket" ? answers.shift() : undefined));
    await h.client.start();
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(h.calls).toHaveLength(1);
    // Then backoff (full jitter, random() = 0 here) for the network error and the 502.
    await vi.advanceTimersByTimeAsync(1);
    expect(h.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10);
    expect(h.calls.map((c) => c.path)).toEqual(["/auth/ticket", "/auth/ticket", "/auth/ticket", "/auth/ticket"]);
    expect(FakeWebSocket.opened).toHaveLength(1);
    expect(h.client.state).toBe("connecting");
    h.client.stop();
  });

  it("after a socket closed before its first frame, asks for the room: a 404 closes for good", async () => {
    const h = harness((call) =>
      call.path === "/rooms/lobby" ? { status: 404, json: { error: { code: "room_not_found", message: "no such room" } } } : undefined,
    );
    await h.client.start();
    // The upgrade was refused: a browser sees only a close.
    h.socket(0).serverClose(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls.map((c) => c.path)).toEqual(["/auth/ticket", "/rooms/lobby"]);
    expect(h.client.state).toBe("closed");
    expect(h.client.failure).toMatchObject({ code: "room_not_found" });
  });

  it("fills resync_required from GET /rooms/:id/messages?after=, page by page", async () => {
    const delivered: number[] = [];
    const h = harness(
      (call) => {
        const after = /^\/rooms\/lobby\/messages\?after=(\d+)&limit=200$/.exec(call.path)?.[1];
        if (after === undefined) return undefined;
        return { status: 200, json: { messages: Number(after) < 4 ? [message(3), message(4)] : [] } };
      },
      { onMessage: (m) => delivered.push(m.seq) },
    );
    await h.client.start();
    h.socket(0).serverOpen();
    h.socket(0).serverSend(welcome(2));
    h.socket(0).serverSend({ type: "resync_required", fromSeq: 3 });
    h.socket(0).serverSend({ type: "message", ...message(5) });
    await vi.advanceTimersByTimeAsync(0);
    expect(delivered).toEqual([3, 4, 5]);
    expect(h.calls.filter((c) => c.method === "GET").map((c) => [c.path, c.authorization])).toEqual([
      ["/rooms/lobby/messages?after=2&limit=200", "Bearer token-2"],
      ["/rooms/lobby/messages?after=4&limit=200", "Bearer token-3"],
    ]);
    h.client.stop();
  });

  it("renews the socket's token before its lifetime (exp − iat) runs out, with the first fresher token() gives", async () => {
    const now = () => Math.floor(Date.now() / 1000);
    const first = unsignedJwt({ iat: now(), exp: now() + 120 });
    const tokens = [first, first, first];
    const token = vi.fn(() => tokens.shift() ?? unsignedJwt({ iat: now(), exp: now() + 120 }));
    const h = harness(() => undefined, { token });
    await h.client.start();
    h.socket(0).serverOpen();
    h.socket(0).serverSend(welcome(0));
    const auths = () =>
      h
        .socket(0)
        .frames()
        .filter((f) => f.type === "auth");
    // The socket lives 120 s from the upgrade; renewal starts 60 s before.
    await vi.advanceTimersByTimeAsync(59_999);
    expect(token).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(token).toHaveBeenCalledTimes(2);
    expect(auths()).toEqual([]);
    // Still the same token: asked again 2 s later; then a fresher one is sent.
    await vi.advanceTimersByTimeAsync(2000);
    expect(auths()).toEqual([]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(token).toHaveBeenCalledTimes(4);
    expect(auths()).toHaveLength(1);
    expect(auths()[0]?.token).not.toBe(first);
    h.client.stop();
  });
});
