import { z } from "zod";

/** Room ids are part of URLs and Durable Object names, so they are kept plain. */
export const ROOM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Usernames: 3–32 characters of letters, digits, `_`, `-` and `.`. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;

export const RoomType = z.enum(["public", "private"]);
/** `public` rooms are open to every signed-in user; `private` ones to members. */
export type RoomType = z.infer<typeof RoomType>;

/** A user as the API shows it. */
export interface User {
  id: string;
  username: string;
}

export const RoomSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: RoomType,
  createdAt: z.string(),
});
/** A room as the API shows it. */
export type Room = z.infer<typeof RoomSchema>;

export const UserSchema = z.object({ id: z.string(), username: z.string() });

/** A stored chat message; `seq` is gapless and increasing per room. */
export interface Message {
  seq: number;
  id: string;
  roomId: string;
  userId: string;
  username: string;
  body: string;
  clientMsgId: string;
  createdAt: string;
}

/** A member of the room's presence list. */
export interface PresenceUser {
  userId: string;
  username: string;
}
