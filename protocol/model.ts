import { z } from "zod";

/** Room ids are part of URLs and Durable Object names, so they are kept plain. */
export const ROOM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Usernames: 3–32 characters of letters, digits, `_`, `-` and `.`. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;

/** A message's place in its room: an integer from 0 (the head of an empty room) up. */
export const SeqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const RoomType = z.enum(["public", "private"]);
/** `public` rooms are open to every signed-in user; `private` ones to members. */
export type RoomType = z.infer<typeof RoomType>;

export const UserSchema = z.object({ id: z.string(), username: z.string() });
/** A user as the API shows it. */
export type User = z.infer<typeof UserSchema>;

export const RoomSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: RoomType,
  createdAt: z.string(),
});
/** A room as the API shows it. */
export type Room = z.infer<typeof RoomSchema>;

export const MessageSchema = z.object({
  seq: SeqSchema,
  id: z.string(),
  roomId: z.string(),
  userId: z.string(),
  username: z.string(),
  body: z.string(),
  clientMsgId: z.string(),
  createdAt: z.string(),
});
/** A stored chat message; `seq` is gapless and increasing per room. */
export type Message = z.infer<typeof MessageSchema>;

export const PresenceUserSchema = z.object({ userId: z.string(), username: z.string() });
/** A member of the room's presence list. */
export type PresenceUser = z.infer<typeof PresenceUserSchema>;
