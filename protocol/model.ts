import * as z from "zod";
import { DEFAULT_LIMITS } from "./limits.ts";

/** Room ids are part of URLs and Durable Object names, so they are kept plain. */
export const ROOM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Usernames: 3–32 characters of letters, digits, `_`, `-` and `.`. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;

/** A message's place in its room: an integer from 0 (the head of an empty room) up. */
export const SeqSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// What PostgreSQL's text and UTF-8 cannot hold: U+0000 (PostgreSQL refuses
// it, in text and in the JSON the archive copy is sent as) and UTF-16
// surrogates without their pair (UTF-8 has no encoding for them; SQLite and
// the PostgreSQL driver store U+FFFD instead, so the stored text differs from
// what was broadcast, and two different client ids become one). Found by the
// security suite: a message body holding U+0000 was stored and acked by its
// room, then failed every copy to PostgreSQL (its room's outbox stuck, and
// each failed statement failing the copies of the rooms batched with it);
// a room name or username holding it made its query fail with 500.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when `text` can be stored and read back as it is: no U+0000 and no unpaired surrogate. */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && !LONE_SURROGATE.test(text);
}

/** A string schema refused unless {@link isStorableText}: for text the client chooses and the database keeps. */
export function storable<T extends z.ZodString>(schema: T): T {
  return schema.refine(isStorableText, "must not contain U+0000 or an unpaired surrogate");
}

/** A client's id for a message (the key of dedupe): 1–64 storable characters. */
export const ClientMsgIdSchema = storable(z.string().min(1).max(DEFAULT_LIMITS.maxClientMsgIdChars));

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
