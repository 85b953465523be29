// Upgrades and frames over raw TCP (test/support/raw-ws.ts), not through a
// friendly client: handshakes that must be refused before the upgrade,
// connections that never finish a request, and frames no client library
// would send. Each answer is the contract's (an HTTP error with a JSON body,
// an error frame, a documented close code) or, where workerd answers before
// the room sees anything, what workerd was measured to do; the server stays
// up and serves a clean client afterwards.
import { deflateRawSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { closePayload, encodeFrame, OP, tcpConnect, type RawSocket } from "../support/raw-ws.ts";
import {
  GOOD_ORIGIN,
  LIMITS_OFF,
  parseJson,
  sleep,
  startSecurityServer,
  Tally,
  type SecurityServer,
  type TestUser,
} from "../support/security.ts";

/** workerd closes a connection that has not completed a request head after this long (measured: 15.0 s, with or without bytes trickling in). */
const HEAD_TIMEOUT_BOUND_MS = 25_000;
/** workerd drops a connection whose close frame it could not answer after this long (measured: between 7 and 12 s). */
const UNANSWERED_CLOSE_BOUND_MS = 25_000;

const tally = new Tally();
let sec: SecurityServer;
let owner: TestUser;
let watcher: TestUser;
let lobby: string;
/** Connections that never finish a request, opened first and checked last. */
const lingering: { name: string; opened: number; ended: Promise<number> }[] = [];

beforeAll(async () => {
  // The rate limits keep their defaults (10/s, burst 20) for the floods; the
  // other limits are off. Every case below uses a room of its own, so that
  // one case's frames do not spend another's budget.
  const { RATE_LIMIT_PER_SECOND: _rate, RATE_LIMIT_BURST: _burst, ...limitsOff } = LIMITS_OFF;
  sec = await startSecurityServer(limitsOff);
  owner = await sec.user("owner");
  watcher = await sec.user("watcher");
  lobby = await sec.room(owner, "public", "lobby");
  await openLingering();
  unansweredCloses = startUnansweredCloses();
});

// Close codes a client may not send. The room echoes the client's code, which
// workerd refuses for these, so no close frame comes back (measured); workerd
// drops the connection some seconds later. Started first, checked later.
const INVALID_CLOSE_CODES = [999, 1004, 1005, 1006, 1015, 2999, 5000];
let unansweredCloses: Promise<{ code: number; socket: RawSocket; watch: RawSocket; sent: number }[]>;

function startUnansweredCloses() {
  return Promise.all(
    INVALID_CLOSE_CODES.map(async (code) => {
      const { socket, watch } = await fresh(true);
      await (watch as RawSocket).waitType("presence");
      const sent = Date.now();
      socket.frame({ opcode: OP.close, payload: closePayload(code) });
      return { code, socket, watch: watch as RawSocket, sent };
    }),
  );
}

afterAll(async () => {
  await sec?.stop();
});

/** Opens connections that never complete a request; each resolves with how long the server took to drop it. */
async function openLingering(): Promise<void> {
  const track = async (name: string, start: (socket: Awaited<ReturnType<typeof tcpConnect>>) => void) => {
    const socket = await tcpConnect(sec.base);
    const opened = Date.now();
    socket.on("error", () => {});
    // Read what comes, so that the end of the stream is seen.
    socket.resume();
    const ended = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - opened)));
    start(socket);
    lingering.push({ name, opened, ended });
  };
  await track("a silent TCP connection", () => {});
  await track("half a request line", (s) => s.write("GET /rooms/x/ws HT"));
  await track("a request head never finished", (s) => s.write(`GET /rooms/${lobby}/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`));
  await track("a head trickling in a header a second", (s) => {
    s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const timer = setInterval(() => (s.destroyed ? clearInterval(timer) : s.write(`X-Slow-${Date.now()}: 1\r\n`)), 1000);
    s.once("close", () => clearInterval(timer));
  });
  await track("an idle keep-alive connection after one request", (s) => s.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
}

/** A socket of `owner` in a room of its own (and a watcher's socket there when asked). */
async function fresh(withWatcher = false): Promise<{ room: string; socket: RawSocket; watch?: RawSocket }> {
  const room = await sec.room(owner, "public", "frames");
  const watch = withWatcher ? await sec.open(room, watcher.token) : undefined;
  const socket = await sec.open(room, owner.token);
  return { room, socket, watch };
}

/** Sends `{ "type": "ping" }` (answered by the room, not the runtime) and waits for its pong: the socket still works. */
async function stillServes(socket: RawSocket): Promise<void> {
  const pongs = socket.ofType("pong").length;
  socket.text('{ "type": "ping" }');
  await socket.until(() => socket.ofType("pong").length > pongs, "a pong on the same socket", 5000);
  if (socket.closeFrame || socket.ended) throw new Error(`closed: ${JSON.stringify(socket.closeFrame)}`);
}

async function healthy(): Promise<void> {
  const answer = await sec.request("/healthz");
  if (answer.status !== 200) throw new Error(`/healthz answered ${answer.status}`);
}

/** Sends frames and expects the server to close with `code`; then the server must still be up. */
async function expectClose(send: (s: RawSocket) => void, codes: number[]): Promise<void> {
  const { socket } = await fresh();
  send(socket);
  const closed = await socket.waitClosed(10_000);
  socket.destroy();
  if (!closed || !codes.includes(closed.code ?? -1)) throw new Error(`closed with ${JSON.stringify(closed)}, not ${codes.join(" or ")}`);
  await healthy();
}

/** Sends one text frame and expects an error frame with `code`, the socket still open. */
async function expectError(socket: RawSocket, text: string | Buffer, code: string): Promise<void> {
  const errors = socket.ofType("error").length;
  socket.text(text);
  await socket.until(() => socket.ofType("error").length > errors, `an error frame ${code}`, 5000);
  const error = socket.ofType("error")[errors];
  if (error?.code !== code) throw new Error(`error frame ${JSON.stringify(error)}, not ${code}`);
  await stillServes(socket);
}

it("refuses handshakes before the upgrade: foreign Origin, missing Upgrade, unknown rooms, bad queries", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("upgrades", name, run);
  const auth = { Authorization: `Bearer ${owner.token}` };
  const refused = async (path: string, headers: Record<string, string | null>, status: number, code: string) => {
    const result = await sec.upgrade(path, { ...auth, ...headers });
    if (result.ok) {
      result.socket.destroy();
      throw new Error("the upgrade was accepted");
    }
    expect(result.answer.status).toBe(status);
    expect(parseJson(result.answer.body)).toMatchObject({ error: { code } });
    expect(result.answer.headers["content-type"]).toContain("application/json");
  };
  const accepted = async (path: string, headers: Record<string, string | null>) => {
    const result = await sec.upgrade(path, { ...auth, ...headers });
    if (!result.ok) throw new Error(`refused: ${result.answer.status} ${result.answer.body}`);
    await result.socket.waitType("welcome");
    result.socket.destroy();
  };
  const ws = `/rooms/${lobby}/ws`;
  for (const origin of [
    "http://evil.example",
    `${GOOD_ORIGIN}.evil.example`,
    `${GOOD_ORIGIN}/`,
    GOOD_ORIGIN.toUpperCase(),
    `${GOOD_ORIGIN}:80`,
    GOOD_ORIGIN.replace("http:", "https:"),
    "null",
    "*",
    "",
  ]) {
    await check(`Origin ${JSON.stringify(origin)}: 403 origin_not_allowed`, () =>
      origin === "" ? refusedOrAbsent(ws, auth) : refused(ws, { Origin: origin }, 403, "origin_not_allowed"),
    );
  }
  await check("the allowed Origin: 101", () => accepted(ws, { Origin: GOOD_ORIGIN }));
  await check("no Origin (not a browser): 101", () => accepted(ws, {}));
  await check("no Upgrade header: 426 upgrade_required", () => refused(ws, { Upgrade: null, Connection: null }, 426, "upgrade_required"));
  await check("Upgrade: h2c: 426 upgrade_required", () => refused(ws, { Upgrade: "h2c" }, 426, "upgrade_required"));
  await check("Upgrade: WebSocket (any case): 101", () => accepted(ws, { Upgrade: "WebSocket" }));
  await check("a room that does not exist: 404", () => refused("/rooms/no-such-room-here/ws", {}, 404, "room_not_found"));
  for (const id of ["UPPER", "a".repeat(65), "a%2Fb", "a%00b", "-lead", "a b"]) {
    await check(`an invalid room id ${JSON.stringify(id)}: 404`, () => refused(`/rooms/${id}/ws`, {}, 404, "room_not_found"));
  }
  // The URL is normalised first: /rooms/../ws is /ws, no route.
  for (const id of ["..", "%2e%2e"]) {
    await check(`room id ${JSON.stringify(id)}: 404 not_found`, () => refused(`/rooms/${id}/ws`, {}, 404, "not_found"));
  }
  for (const lastSeq of ["-1", "1.5", "abc", "1e400", String(2 ** 53)]) {
    await check(`lastSeq=${lastSeq}: 400 invalid_request`, () => refused(`${ws}?lastSeq=${lastSeq}`, {}, 400, "invalid_request"));
  }
  // A wrong protocol version or no key never opens a socket (see the it.fails below for where the refusal comes from).
  for (const [name, headers] of Object.entries(handshakeDefects)) {
    await check(`${name}: never 101, server up`, async () => {
      const result = await sec.upgrade(ws, { ...auth, ...headers });
      if (result.ok) {
        result.socket.destroy();
        throw new Error("a defective handshake was upgraded");
      }
      expect([400, 426]).toContain(result.answer.status);
      await healthy();
    });
  }
  tally.expectClean("upgrades");
});

/** An empty Origin header: refused like a foreign one, or treated as absent. */
async function refusedOrAbsent(path: string, auth: Record<string, string>): Promise<void> {
  const result = await sec.upgrade(path, { ...auth, Origin: "" });
  if (result.ok) result.socket.destroy();
  else expect(result.answer.status).toBe(403);
}

const handshakeDefects: Record<string, Record<string, string | null>> = {
  "Sec-WebSocket-Version: 8": { "Sec-WebSocket-Version": "8" },
  "Sec-WebSocket-Version: junk": { "Sec-WebSocket-Version": "junk" },
  "no Sec-WebSocket-Version": { "Sec-WebSocket-Version": null },
  "no Sec-WebSocket-Key": { "Sec-WebSocket-Key": null },
};

// Found by this suite and fixed: the Worker checks Sec-WebSocket-Version and
// Sec-WebSocket-Key before anything else (worker/rooms/ws.ts checkHandshake).
// Left to workerd, a defective handshake was authenticated, spent a ticket and
// reached the room (its other users saw a presence join and leave) before
// workerd refused it in plain text.
it("refuses a wrong Sec-WebSocket-Version or a missing key before the room sees it (426/400 JSON, no presence flap)", async () => {
  const watch = await sec.open(lobby, watcher.token);
  for (const [name, headers] of Object.entries(handshakeDefects)) {
    await tally.check("upgrades", `${name}: the contract's JSON error, no presence flap`, async () => {
      const before = watch.ofType("presence").length;
      const result = await sec.upgrade(`/rooms/${lobby}/ws`, { Authorization: `Bearer ${owner.token}`, ...headers });
      if (result.ok) result.socket.destroy();
      await sleep(300);
      const body = parseJson(result.ok ? "" : result.answer.body) as { error?: { code?: string } } | undefined;
      expect(body?.error?.code, `${result.answer.status} ${JSON.stringify(result.answer.body)}`).toMatch(
        /^(upgrade_required|invalid_request)$/,
      );
      expect(watch.ofType("presence").length - before, "presence frames the room sent to others").toBe(0);
    });
  }
  watch.destroy();
  tally.expectClean("upgrades");
});

it("frames: invalid UTF-8, binary, bad opcodes and control frames, oversized frames and messages, compression bombs", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("frames", name, run);
  await check("invalid UTF-8 inside a JSON string: workerd hands the room U+FFFD for each bad byte; stored as such, no 1007", async () => {
    const { socket } = await fresh();
    const bad = Buffer.from([0xff, 0xc0, 0xed, 0xa0, 0x80]);
    socket.text(Buffer.concat([Buffer.from('{"type":"send","clientMsgId":"utf8","body":"a'), bad, Buffer.from('b"}')]));
    const [ack] = await socket.waitType("ack");
    expect(ack).toMatchObject({ clientMsgId: "utf8" });
    expect(socket.ofType("message")[0]?.body).toBe(`a${"\uFFFD".repeat(5)}b`);
    await stillServes(socket);
  });
  await check("invalid UTF-8 that breaks the JSON: bad_request, the socket stays open", async () => {
    const { socket } = await fresh();
    await expectError(socket, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), "bad_request");
    await expectError(socket, Buffer.from([0x7b, 0x22, 0x74, 0xc0, 0xa2, 0x3a, 0x31, 0x7d]), "bad_request");
  });
  await check("a code point split across two fragments is one character (not invalid)", async () => {
    const { socket } = await fresh();
    const text = Buffer.from('{"type":"send","clientMsgId":"split","body":"\u20ac"}');
    const cut = text.indexOf(0xe2) + 1;
    socket.frame({ opcode: OP.text, fin: false, payload: text.subarray(0, cut) });
    socket.frame({ opcode: OP.continuation, payload: text.subarray(cut) });
    await socket.waitType("ack");
    expect(socket.ofType("message")[0]?.body).toBe("\u20ac");
  });
  await check("a binary frame: close 1003", () => expectClose((s) => s.frame({ opcode: OP.binary, payload: '{"type":"typing"}' }), [1003]));
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    await check(`opcode ${opcode}: close 1002 (workerd)`, () => expectClose((s) => s.frame({ opcode, payload: "x" }), [1002]));
  }
  await check("a fragmented ping: close 1002", () => expectClose((s) => s.frame({ opcode: OP.ping, fin: false, payload: "p" }), [1002]));
  await check("a fragmented close: close 1002", () =>
    expectClose((s) => s.frame({ opcode: OP.close, fin: false, payload: closePayload(1000) }), [1002]),
  );
  for (const rsv of [1, 2, 4]) {
    await check(`RSV bits ${rsv} without an extension: close 1002`, () =>
      expectClose((s) => s.frame({ opcode: OP.text, rsv, payload: '{"type":"typing"}' }), [1002]),
    );
  }
  await check("a continuation with no message started: close 1002", () =>
    expectClose((s) => s.frame({ opcode: OP.continuation, payload: "x" }), [1002]),
  );
  await check("a new text frame inside a fragmented message: close 1002", () =>
    expectClose(
      (s) => {
        s.frame({ opcode: OP.text, fin: false, payload: '{"type":' });
        s.frame({ opcode: OP.text, payload: '{"type":"typing"}' });
      },
      [1002],
    ),
  );
  await check("a ping inside a fragmented message is answered, and the message completes", async () => {
    const { socket } = await fresh();
    socket.frame({ opcode: OP.text, fin: false, payload: '{"type":"send","clientMsgId":"f' });
    socket.frame({ opcode: OP.ping, payload: "between" });
    socket.frame({ opcode: OP.continuation, payload: '1","body":"fragmented"}' });
    await socket.waitType("ack");
    expect(socket.frames.some((f) => f.opcode === OP.pong && f.payload.toString() === "between")).toBe(true);
  });
  // Measured, not RFC 6455: workerd answers a ping of more than 125 bytes and
  // takes unmasked client frames. Either answer is accepted here; the server must stay up.
  await check("a ping of 200 bytes (control frames are limited to 125): pong or close 1002", async () => {
    const { socket } = await fresh();
    socket.frame({ opcode: OP.ping, payload: Buffer.alloc(200, 0x70) });
    await socket.until(() => socket.frames.some((f) => f.opcode === OP.pong) || socket.closeFrame !== null, "a pong or a close");
    if (socket.closeFrame && socket.closeFrame.code !== 1002) throw new Error(`closed ${JSON.stringify(socket.closeFrame)}`);
    console.log(
      `security: frames: a 200-byte ping got ${socket.closeFrame ? "close 1002" : "a pong (workerd does not enforce the 125-byte limit)"}`,
    );
    await healthy();
  });
  await check("an unmasked client frame: processed or close 1002", async () => {
    const { socket } = await fresh();
    socket.frame({ opcode: OP.text, mask: false, payload: '{ "type": "ping" }' });
    await socket.until(() => socket.ofType("pong").length > 0 || socket.closeFrame !== null, "a pong or a close");
    if (socket.closeFrame && socket.closeFrame.code !== 1002) throw new Error(`closed ${JSON.stringify(socket.closeFrame)}`);
    console.log(
      `security: frames: an unmasked frame got ${socket.closeFrame ? "close 1002" : "processed (workerd does not require masking)"}`,
    );
    await healthy();
  });
  await check("a text frame of exactly MAX_FRAME_BYTES (16384) is taken", async () => {
    const { socket } = await fresh();
    const frame = '{ "type": "ping" }';
    socket.text(frame.slice(0, -1) + " ".repeat(16_384 - Buffer.byteLength(frame)) + "}");
    await socket.waitType("pong");
  });
  await check("a text frame one byte over MAX_FRAME_BYTES: close 1009", () => expectClose((s) => s.text(`"${"x".repeat(16_384)}`), [1009]));
  await check("a 20 KB message in 20 fragments of 1 KB: close 1009", () =>
    expectClose(
      (s) => {
        for (let i = 0; i < 20; i++) s.frame({ opcode: i === 0 ? OP.text : OP.continuation, fin: i === 19, payload: "x".repeat(1000) });
      },
      [1009],
    ),
  );
  await check("a frame announcing 2^63-1 bytes: close 1009 at once (workerd, no data read)", () =>
    expectClose((s) => s.frame({ opcode: OP.text, payload: "x", announcedLength: Number.MAX_SAFE_INTEGER }), [1009]),
  );
  await check("a frame announcing 40 MiB: close 1009 at once (workerd's limit is 32 MiB)", () =>
    expectClose((s) => s.frame({ opcode: OP.text, payload: "x", announcedLength: 40 * 1024 * 1024 }), [1009]),
  );
  // permessage-deflate is negotiated when a client offers it (measured), so a
  // small frame can inflate to workerd's 32 MiB message limit before the room's
  // MAX_FRAME_BYTES applies.
  for (const mib of [30, 40]) {
    await check(`a permessage-deflate bomb inflating to ${mib} MiB: close 1009`, async () => {
      const room = await sec.room(owner, "public", "bomb");
      const result = await sec.upgrade(`/rooms/${room}/ws`, {
        Authorization: `Bearer ${owner.token}`,
        "Sec-WebSocket-Extensions": "permessage-deflate",
      });
      if (!result.ok) throw new Error(`refused ${result.answer.status}`);
      expect(result.answer.headers["sec-websocket-extensions"]).toContain("permessage-deflate");
      const bomb = deflateRawSync(Buffer.alloc(mib * 1024 * 1024, 0x61));
      const started = Date.now();
      result.socket.frame({ opcode: OP.text, rsv: 4, payload: bomb });
      const closed = await result.socket.waitClosed(20_000);
      result.socket.destroy();
      expect(closed?.code).toBe(1009);
      console.log(
        `security: frames: a ${bomb.length}-byte deflate frame inflating to ${mib} MiB was closed 1009 in ${Date.now() - started} ms`,
      );
      await healthy();
    });
  }
  tally.expectClean("frames");
});

it("frames: floods, deep nesting, __proto__, wrong types, unknown types, identity fields", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("frames", name, run);
  await check("a flood of 300 typing frames: rate_limited, then close 4429; the watcher gets at most the burst", async () => {
    const { socket, watch } = await fresh(true);
    socket.write(Buffer.concat(Array.from({ length: 300 }, () => Buffer.from(encodeText('{"type":"typing"}')))));
    const closed = await socket.waitClosed(10_000);
    expect(closed?.code).toBe(4429);
    expect(socket.ofType("error").every((e) => e.code === "rate_limited")).toBe(true);
    await sleep(200);
    expect(watch?.ofType("typing").length ?? 0).toBeLessThanOrEqual(25);
    await healthy();
  });
  await check("a flood of 300 one-byte junk frames: close 4429", () =>
    expectClose((s) => s.write(Buffer.concat(Array.from({ length: 300 }, () => encodeText("x")))), [4429]),
  );
  await check("1000 exact pings: 1000 pongs from the runtime, the socket stays open", async () => {
    const { socket } = await fresh();
    socket.write(Buffer.concat(Array.from({ length: 1000 }, () => encodeText('{"type":"ping"}'))));
    await socket.until(() => socket.ofType("pong").length >= 1000, "1000 pongs", 10_000);
    await stillServes(socket);
  });
  const probes: [string, string, string][] = [
    ["arrays nested 8000 deep", "[".repeat(8000) + "]".repeat(8000), "bad_request"],
    ["objects nested 2700 deep", '{"a":'.repeat(2700) + "1" + "}".repeat(2700), "bad_request"],
    ["a send with a 2000-deep unknown key", `{"type":"typing","x":${"[".repeat(2000)}${"]".repeat(2000)}}`, "none"],
    ["__proto__ holding the type", '{"__proto__":{"type":"send","clientMsgId":"pp","body":"x"}}', "bad_request"],
    ["constructor.prototype holding the type", '{"constructor":{"prototype":{"type":"typing"}}}', "bad_request"],
    ["type 1", '{"type":1}', "bad_request"],
    ["type null", '{"type":null}', "bad_request"],
    ["type an array", '{"type":["send"]}', "bad_request"],
    ["type an object", '{"type":{"toString":"send"}}', "bad_request"],
    ["body a number", '{"type":"send","clientMsgId":"a","body":5}', "bad_request"],
    ["body an array", '{"type":"send","clientMsgId":"a","body":["x"]}', "bad_request"],
    ["body an object", '{"type":"send","clientMsgId":"a","body":{"length":1}}', "bad_request"],
    ["body null", '{"type":"send","clientMsgId":"a","body":null}', "bad_request"],
    ["body true", '{"type":"send","clientMsgId":"a","body":true}', "bad_request"],
    ["body with U+0000", '{"type":"send","clientMsgId":"a","body":"x\\u0000y"}', "bad_request"],
    ["body with an unpaired surrogate", '{"type":"send","clientMsgId":"a","body":"x\\ud800y"}', "bad_request"],
    ["clientMsgId a number", '{"type":"send","clientMsgId":7,"body":"x"}', "bad_request"],
    ["clientMsgId of 65 characters", `{"type":"send","clientMsgId":"${"c".repeat(65)}","body":"x"}`, "bad_request"],
    ["body of 4001 characters", `{"type":"send","clientMsgId":"a","body":"${"b".repeat(4001)}"}`, "body_too_long"],
    ["lastSeq a string", '{"type":"resume","lastSeq":"3"}', "bad_request"],
    ["lastSeq negative", '{"type":"resume","lastSeq":-1}', "bad_request"],
    ["lastSeq 2^53", `{"type":"resume","lastSeq":${2 ** 53}}`, "bad_request"],
    ["lastSeq 1e400", '{"type":"resume","lastSeq":1e400}', "bad_request"],
    ["token a number", '{"type":"auth","token":42}', "bad_request"],
    ["a JSON string", '"send"', "bad_request"],
    ["null", "null", "bad_request"],
    ["an empty frame", "", "bad_request"],
    ["a lone surrogate escape as the frame", '"\\udc00"', "bad_request"],
  ];
  for (const type of [
    "SEND",
    "send ",
    " send",
    "admin",
    "message",
    "welcome",
    "ack",
    "error",
    "presence",
    "history",
    "delete",
    "join",
    "__proto__",
    "constructor",
    "",
  ]) {
    probes.push([`unknown type ${JSON.stringify(type)}`, JSON.stringify({ type, clientMsgId: "u", body: "x" }), "bad_request"]);
  }
  // Two frames per probe (it and a ping), at most 16 per socket: the rate limit's burst is 20.
  for (let i = 0; i < probes.length; i += 8) {
    const { socket } = await fresh();
    for (const [name, text, code] of probes.slice(i, i + 8)) {
      await check(`${name}: ${code === "none" ? "ignored" : code}`, async () => {
        if (code !== "none") return expectError(socket, text, code);
        const errors = socket.ofType("error").length;
        socket.text(text);
        await stillServes(socket);
        expect(socket.ofType("error").length).toBe(errors);
      });
    }
  }
  await check("fields that try to set the sender, room, seq, id or time are ignored", async () => {
    const { room, socket, watch } = await fresh(true);
    const other = await sec.room(owner, "public", "other");
    const elsewhere = await sec.open(other, watcher.token);
    socket.sendJson({
      type: "send",
      clientMsgId: "forged",
      body: "who am I",
      userId: watcher.id,
      username: watcher.username,
      user: { id: watcher.id, username: watcher.username },
      roomId: other,
      seq: 999,
      id: "00000000-0000-0000-0000-000000000000",
      createdAt: "1999-01-01T00:00:00.000Z",
    });
    const [ack] = await socket.waitType("ack");
    const [message] = await (watch as RawSocket).waitType("message");
    expect(ack?.seq).toBe(1);
    expect(message).toMatchObject({ seq: 1, roomId: room, userId: owner.id, username: owner.username, body: "who am I" });
    expect(message?.id).not.toBe("00000000-0000-0000-0000-000000000000");
    expect(Math.abs(Date.parse(String(message?.createdAt)) - Date.now())).toBeLessThan(60_000);
    const stored = await sec.request(`/rooms/${room}/messages`, { token: owner.token });
    expect((stored.json as { messages: unknown[] }).messages).toEqual([
      Object.fromEntries(Object.entries(message ?? {}).filter(([k]) => k !== "type")),
    ]);
    await sleep(200);
    expect(elsewhere.ofType("message")).toEqual([]);
    expect((await sec.request(`/rooms/${other}/messages`, { token: owner.token })).json).toEqual({ messages: [] });
  });
  await check("__proto__ holding a sender: ignored, the message carries the socket's user", async () => {
    const { socket } = await fresh();
    socket.text(`{"type":"send","clientMsgId":"proto","body":"x","__proto__":{"userId":"${watcher.id}","username":"${watcher.username}"}}`);
    await socket.waitType("ack");
    expect(socket.ofType("message")[0]).toMatchObject({ userId: owner.id, username: owner.username });
  });
  await check("a key given twice: the last one counts, as JSON.parse reads it", async () => {
    const { socket } = await fresh();
    socket.text('{"type":"send","clientMsgId":"twice","body":"first","body":"second"}');
    await socket.waitType("ack");
    expect(socket.ofType("message")[0]?.body).toBe("second");
  });
  tally.expectClean("frames");
});

/** A masked text frame's bytes, so that a flood goes out in one TCP write. */
function encodeText(text: string): Buffer {
  return encodeFrame({ opcode: OP.text, payload: text });
}

it("frames: closes the client started, abrupt ends, and what a watcher sees", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("frames", name, run);
  for (const { code, socket, watch, sent } of await unansweredCloses) {
    await check(
      `a close with code ${code}: the connection ends within ${UNANSWERED_CLOSE_BOUND_MS / 1000} s, the others see leave`,
      async () => {
        await socket.until(() => socket.ended || socket.closeFrame !== null, "the end of the connection", UNANSWERED_CLOSE_BOUND_MS);
        await watch.waitType("presence", 2, 5000);
        expect(watch.ofType("presence")[1]).toMatchObject({ event: "leave", user: { userId: owner.id } });
        console.log(
          `security: frames: close ${code} from the client: ${socket.closeFrame ? `answered ${socket.closeFrame.code}` : `no close frame back, connection ended after ${socket.endedAt - sent} ms`}`,
        );
        socket.destroy();
        watch.destroy();
      },
    );
  }
  await check("a close with a one-byte payload: closed", () =>
    expectClose((s) => s.frame({ opcode: OP.close, payload: Buffer.from([3]) }), [1000, 1002]),
  );
  await check("a close whose reason is invalid UTF-8: closed", () =>
    expectClose(
      (s) => s.frame({ opcode: OP.close, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff])]) }),
      [1000, 1002, 1007],
    ),
  );
  await check("a close with 4999 is echoed", () => expectClose((s) => s.close(4999, "bye"), [4999]));
  await check("TCP reset in the middle of a frame: the others see leave, the room goes on", async () => {
    const { room, socket, watch } = await fresh(true);
    await (watch as RawSocket).waitType("presence", 1, 5000);
    socket.write(encodeText('{"type":"send","clientMsgId":"cut","body":"never finished"}').subarray(0, 20));
    socket.socket.resetAndDestroy();
    await (watch as RawSocket).waitType("presence", 2, 5000);
    expect((watch as RawSocket).ofType("presence")[1]).toMatchObject({ event: "leave", user: { userId: owner.id } });
    expect((await sec.request(`/rooms/${room}/messages`, { token: owner.token })).json).toEqual({ messages: [] });
  });
  tally.expectClean("frames");
});

// Found by this suite and fixed: a close with a code a peer may not send
// (below 1000, 1004, 1015, 5000 and up) was echoed, workerd refused to send
// it, and the client got no close frame until workerd dropped it ~10 s later.
// The room now answers those with 1002 (durable-objects/room/sessions.ts closeReply).
it("answers a close with a code a peer may not send at once, with a close frame", async () => {
  await Promise.all(
    [999, 1004, 1015, 5000].map((code) =>
      tally.check("frames", `close ${code}: a close frame within 2 s`, async () => {
        const { socket } = await fresh();
        socket.frame({ opcode: OP.close, payload: closePayload(code) });
        const closed = await socket.waitClosed(2000).catch(() => null);
        socket.destroy();
        expect(closed, "no close frame within 2 s").not.toBeNull();
      }),
    ),
  );
  tally.expectClean("frames");
});

it("bounds connections that never finish a request; then serves a clean client", async () => {
  for (const { name, opened, ended } of lingering) {
    await tally.check("upgrades", `${name}: dropped within ${HEAD_TIMEOUT_BOUND_MS / 1000} s`, async () => {
      const left = HEAD_TIMEOUT_BOUND_MS - (Date.now() - opened);
      const ms = await Promise.race([ended, sleep(Math.max(left, 0) + 2000).then(() => -1)]);
      if (ms < 0) throw new Error("still open");
      console.log(`security: upgrades: ${name} was dropped after ${ms} ms`);
      expect(ms).toBeLessThanOrEqual(HEAD_TIMEOUT_BOUND_MS);
    });
  }
  await tally.check("frames", "a clean client is served after everything above", async () => {
    const { socket } = await fresh();
    socket.sendJson({ type: "send", clientMsgId: "clean", body: "still here" });
    await socket.waitType("ack");
    await healthy();
  });
  tally.expectClean("upgrades");
  tally.expectClean("frames");
});

it("leaks no token, password, secret or database URL to logs, metrics, Sentry or error answers", async () => {
  await tally.check("secrets", "sockets file: nothing leaked", async () => expect(await sec.leaks()).toEqual([]));
  tally.expectClean("secrets");
});
