import { describe, expect, expectTypeOf, it } from "vitest";
import type { FrameErrorCode } from "./codes.ts";
import { encodeServerFrame, parseClientFrame, parseServerFrame, type ServerFrame } from "./frames.ts";
import type { Message, PresenceUser, Room, User } from "./model.ts";

describe("parseClientFrame", () => {
  it.each([
    ['{"type":"send","clientMsgId":"a","body":"hi"}', "send"],
    ['{"type":"resume","lastSeq":0}', "resume"],
    ['{"type":"typing"}', "typing"],
    ['{"type":"ping"}', "ping"],
    ['{"type":"ping","lastSeq":41}', "ping"],
    ['{"type":"auth","token":"x.y.z"}', "auth"],
  ])("accepts %s", (raw, type) => {
    const parsed = parseClientFrame(raw);
    expect(parsed.ok && parsed.value.type).toBe(type);
  });

  it("strips unknown keys", () => {
    const parsed = parseClientFrame('{"type":"ping","extra":1}');
    expect(parsed).toEqual({ ok: true, value: { type: "ping" } });
  });

  it.each([
    ["", "bad_request"],
    ["{", "bad_request"],
    ["null", "bad_request"],
    ["[]", "bad_request"],
    ['"send"', "bad_request"],
    ["42", "bad_request"],
    ["{}", "bad_request"],
    ['{"type":"nope"}', "bad_request"],
    ['{"type":1}', "bad_request"],
    ['{"type":"SEND","clientMsgId":"a","body":"x"}', "bad_request"],
    ['{"type":"send","body":"x"}', "bad_request"],
    ['{"type":"send","clientMsgId":"","body":"x"}', "bad_request"],
    [`{"type":"send","clientMsgId":"${"c".repeat(65)}","body":"x"}`, "bad_request"],
    ['{"type":"send","clientMsgId":"a"}', "bad_request"],
    ['{"type":"send","clientMsgId":"a","body":""}', "bad_request"],
    ['{"type":"send","clientMsgId":"a","body":5}', "bad_request"],
    ['{"type":"send","clientMsgId":7,"body":"x"}', "bad_request"],
    ['{"type":"resume"}', "bad_request"],
    ['{"type":"ping","lastSeq":-1}', "bad_request"],
    ['{"type":"ping","lastSeq":"4"}', "bad_request"],
    ['{"type":"resume","lastSeq":-1}', "bad_request"],
    ['{"type":"resume","lastSeq":1.5}', "bad_request"],
    ['{"type":"resume","lastSeq":"3"}', "bad_request"],
    ['{"type":"resume","lastSeq":1e300}', "bad_request"],
    ['{"type":"auth"}', "bad_request"],
    ['{"type":"auth","token":""}', "bad_request"],
    // What the database cannot hold: U+0000 and unpaired surrogates (model.ts, isStorableText).
    ['{"type":"send","clientMsgId":"a","body":"a\\u0000b"}', "bad_request"],
    ['{"type":"send","clientMsgId":"a\\u0000","body":"x"}', "bad_request"],
    ['{"type":"send","clientMsgId":"a","body":"x\\ud800y"}', "bad_request"],
    ['{"type":"send","clientMsgId":"a","body":"x\\udc00"}', "bad_request"],
    ['{"type":"send","clientMsgId":"\\udbff","body":"x"}', "bad_request"],
  ])("refuses %j with %s", (raw, code) => {
    const parsed = parseClientFrame(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.code).toBe(code);
      expect(parsed.message.length).toBeGreaterThan(0);
    }
  });

  it("accepts paired surrogates, U+FFFD and other control characters in a body", () => {
    for (const body of ["\u{1F600}", "\uFFFD", "a\u0001\u001f\u007f\u202e\u2066b", "\uD83D\uDE00x"]) {
      expect(parseClientFrame(JSON.stringify({ type: "send", clientMsgId: body, body }))).toMatchObject({ ok: true });
    }
  });

  it("enforces the body limit it is given, with its own code", () => {
    const frame = (n: number) => JSON.stringify({ type: "send", clientMsgId: "a", body: "x".repeat(n) });
    expect(parseClientFrame(frame(4000)).ok).toBe(true);
    expect(parseClientFrame(frame(4001))).toMatchObject({ ok: false, code: "body_too_long" });
    expect(parseClientFrame(frame(11), { maxBodyChars: 10 })).toMatchObject({ ok: false, code: "body_too_long" });
  });

  it("never throws on deeply nested input", () => {
    const raw = "[".repeat(10_000) + "]".repeat(10_000);
    expect(parseClientFrame(raw).ok).toBe(false);
  });
});

describe("parseServerFrame", () => {
  it("accepts an ack and refuses an unknown error code", () => {
    expect(parseServerFrame('{"type":"ack","clientMsgId":"a","seq":3}').ok).toBe(true);
    expect(parseServerFrame('{"type":"error","code":"made_up","message":"x"}').ok).toBe(false);
    expect(parseServerFrame('{"type":"message","seq":1}').ok).toBe(false);
  });
});

describe("ServerFrame", () => {
  const message: Message = {
    seq: 7,
    id: "m7",
    roomId: "lobby",
    userId: "u1",
    username: "ada",
    body: "hi",
    clientMsgId: "c1",
    createdAt: "2026-01-01T00:00:00.000Z",
  };
  const frames: ServerFrame[] = [
    {
      type: "welcome",
      room: { id: "lobby", name: "Lobby", type: "public", createdAt: "2026-01-01T00:00:00.000Z" },
      user: { id: "u1", username: "ada" },
      headSeq: 7,
      presence: [{ userId: "u1", username: "ada" }],
    },
    { type: "message", ...message },
    { type: "ack", clientMsgId: "c1", seq: 7 },
    { type: "presence", event: "join", user: { userId: "u1", username: "ada" } },
    { type: "typing", user: { userId: "u1", username: "ada" } },
    { type: "error", code: "rate_limited", message: "slow down" },
    { type: "resync_required", fromSeq: 3 },
    { type: "pong" },
    { type: "goaway", retryAfterMs: 4210 },
  ];

  it.each(frames.map((f) => [f.type, f] as const))("%s survives encode and parse unchanged", (_type, frame) => {
    expect(parseServerFrame(encodeServerFrame(frame))).toEqual({ ok: true, value: frame });
  });

  it("is the schema's type: the model's types inside, the contract's error codes", () => {
    expectTypeOf<Extract<ServerFrame, { type: "welcome" }>>().toEqualTypeOf<{
      type: "welcome";
      room: Room;
      user: User;
      headSeq: number;
      presence: PresenceUser[];
    }>();
    expectTypeOf<Omit<Extract<ServerFrame, { type: "message" }>, "type">>().toEqualTypeOf<Message>();
    expectTypeOf<Extract<ServerFrame, { type: "error" }>["code"]>().toEqualTypeOf<FrameErrorCode>();
  });

  it("names an unknown error code, and a code that is not a string", () => {
    expect(parseServerFrame('{"type":"error","code":"made_up","message":"x"}')).toEqual({
      ok: false,
      code: "bad_frame",
      message: "unknown error code made_up",
    });
    const notText = parseServerFrame('{"type":"error","code":5,"message":"x"}');
    expect(notText).toMatchObject({ ok: false, code: "bad_frame" });
    expect(!notText.ok && notText.message).toMatch(/^code: .*expected string/);
  });
});
