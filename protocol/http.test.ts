import { describe, expect, expectTypeOf, it } from "vitest";
import { ErrorBody, type HttpErrorCode } from "./codes.ts";
import {
  AddMemberRequest,
  CreateRoomRequest,
  LoginRequest,
  LoginResponse,
  MessagesResponse,
  publishRequest,
  RoomsResponse,
} from "./http.ts";
import type { Message, Room, User } from "./model.ts";

describe("response bodies", () => {
  const user: User = { id: "u1", username: "ada" };
  const room: Room = { id: "lobby", name: "Lobby", type: "public", createdAt: "2026-01-01T00:00:00.000Z" };
  const message: Message = {
    seq: 1,
    id: "m1",
    roomId: "lobby",
    userId: "u1",
    username: "ada",
    body: "hi",
    clientMsgId: "c1",
    createdAt: room.createdAt,
  };

  it("parse what the API answers, with the model's types", () => {
    const login = { token: "t", expiresAt: room.createdAt, user };
    expect(LoginResponse.parse(login)).toEqual(login);
    expect(RoomsResponse.parse({ rooms: [room] })).toEqual({ rooms: [room] });
    expect(MessagesResponse.parse({ messages: [message] })).toEqual({ messages: [message] });
    expectTypeOf<LoginResponse["user"]>().toEqualTypeOf<User>();
    expectTypeOf<MessagesResponse["messages"]>().toEqualTypeOf<Message[]>();
  });

  it("refuse a message with a negative seq", () => {
    expect(MessagesResponse.safeParse({ messages: [{ ...message, seq: -1 }] }).success).toBe(false);
  });
});

describe("ErrorBody", () => {
  it("holds one of the contract's HTTP error codes", () => {
    expect(ErrorBody.parse({ error: { code: "room_not_found", message: "no such room" } })).toEqual({
      error: { code: "room_not_found", message: "no such room" },
    });
    expect(ErrorBody.safeParse({ error: { code: "made_up", message: "x" } }).success).toBe(false);
    expect(ErrorBody.safeParse({ error: { code: "toString", message: "x" } }).success).toBe(false);
    expectTypeOf<ErrorBody["error"]["code"]>().toEqualTypeOf<HttpErrorCode>();
  });
});

describe("request bodies", () => {
  // U+0000 made PostgreSQL refuse the query (500) or the archive copy of a
  // message (its room's outbox stuck); an unpaired surrogate is stored as U+FFFD.
  const unstorable = ["a\u0000b", "x\ud800", "\udc00y"];

  it.each(unstorable)("refuse %j where the database keeps the text", (text) => {
    expect(LoginRequest.safeParse({ username: text, password: "p" }).success).toBe(false);
    expect(AddMemberRequest.safeParse({ username: text }).success).toBe(false);
    expect(CreateRoomRequest.safeParse({ id: "r", name: text, type: "public" }).success).toBe(false);
    expect(publishRequest(4000).safeParse({ clientMsgId: text, body: "x" }).success).toBe(false);
    expect(publishRequest(4000).safeParse({ clientMsgId: "c", body: text }).success).toBe(false);
  });

  it("accept any other text, emoji and bidi controls included", () => {
    const text = "\u{1F600} \u202e<script>'; DROP TABLE users; --\u2066";
    expect(publishRequest(4000).safeParse({ clientMsgId: "c", body: text })).toMatchObject({ success: true, data: { body: text } });
    expect(CreateRoomRequest.safeParse({ id: "r", name: text, type: "public" }).success).toBe(true);
    expect(LoginRequest.safeParse({ username: "\u{1F600}", password: "a\u0000b" }).success).toBe(true);
  });
});
