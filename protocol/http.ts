import * as z from "zod";
import { DEFAULT_LIMITS } from "./limits.ts";
import {
  ClientMsgIdSchema,
  MessageSchema,
  ROOM_ID_PATTERN,
  RoomSchema,
  RoomType,
  storable,
  USERNAME_PATTERN,
  UserSchema,
} from "./model.ts";

/** `POST /auth/register` and `POST /auth/login`. */
export const Credentials = z.object({
  username: z.string().regex(USERNAME_PATTERN, "3–32 letters, digits, '_', '-' or '.'"),
  password: z.string().min(8, "at least 8 characters").max(256),
});
export type Credentials = z.infer<typeof Credentials>;

/** `POST /auth/login` accepts any strings so that unknown users meet the same path. */
export const LoginRequest = z.object({
  username: storable(z.string().min(1).max(64)),
  password: z.string().min(1).max(256),
});

/** `POST /rooms`. */
export const CreateRoomRequest = z.object({
  id: z.string().regex(ROOM_ID_PATTERN, "must match ^[a-z0-9][a-z0-9_-]{0,63}$"),
  name: storable(z.string().trim().min(1).max(100)).optional(),
  type: RoomType,
});
export type CreateRoomRequest = z.infer<typeof CreateRoomRequest>;

/** `POST /rooms/:id/members`. */
export const AddMemberRequest = z.object({ username: storable(z.string().min(1).max(64)) });

/** `POST /rooms/:id/messages`; the body limit is the deployment's. */
export function publishRequest(maxBodyChars: number) {
  return z.object({
    clientMsgId: ClientMsgIdSchema,
    body: storable(z.string().min(1).max(maxBodyChars)),
  });
}
export type PublishRequest = z.infer<ReturnType<typeof publishRequest>>;

const seqParam = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Query of `GET /rooms/:id/messages`: `after` or `before` (not both), and `limit`. */
export const HistoryQuery = z
  .object({
    after: seqParam.optional(),
    before: seqParam.optional(),
    limit: z.coerce.number().int().min(1).max(DEFAULT_LIMITS.maxHistoryLimit).default(DEFAULT_LIMITS.defaultHistoryLimit),
  })
  .refine((q) => q.after === undefined || q.before === undefined, {
    message: "give either after or before, not both",
  });
export type HistoryQuery = z.infer<typeof HistoryQuery>;

/** Response bodies, named so that clients and tests share them (and may parse them). */
export const RegisterResponse = z.object({ user: UserSchema });
export type RegisterResponse = z.infer<typeof RegisterResponse>;
export const LoginResponse = z.object({ token: z.string(), expiresAt: z.string(), user: UserSchema });
export type LoginResponse = z.infer<typeof LoginResponse>;
export const TicketResponse = z.object({ ticket: z.string(), expiresAt: z.string() });
export type TicketResponse = z.infer<typeof TicketResponse>;
export const RoomResponse = z.object({ room: RoomSchema });
export type RoomResponse = z.infer<typeof RoomResponse>;
export const RoomsResponse = z.object({ rooms: z.array(RoomSchema) });
export type RoomsResponse = z.infer<typeof RoomsResponse>;
export const MessagesResponse = z.object({ messages: z.array(MessageSchema) });
export type MessagesResponse = z.infer<typeof MessagesResponse>;
export const MessageResponse = z.object({ message: MessageSchema });
export type MessageResponse = z.infer<typeof MessageResponse>;
