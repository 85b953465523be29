import type { Message, PublishRequest, Room, User } from "../../protocol/index.ts";
import type { Committer, RoomRefusal } from "./committer.ts";
import { ArchiveUnavailable, readAfter, readBefore, type Archive, type LogView } from "./history.ts";
import type { MessageBudget } from "./rate-limit.ts";

/** A history query the room answers. */
export interface HistoryRange {
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
}

/** Why the room refused a publish: a refusal of the room, or the user's message budget is spent (retry after that many seconds). */
export type PublishRefusal = { code: RoomRefusal } | { code: "rate_limited"; retryAfterS: number };

/** What `publish` answers. */
export type PublishResult = { ok: true; message: Message; duplicate: boolean } | ({ ok: false } & PublishRefusal);

/** What `history` answers. */
export type HistoryResult = { ok: true; messages: Message[] } | { ok: false; code: RoomRefusal };

/** What the REST calls read from. */
export interface RestParts {
  committer: Committer;
  budget: Pick<MessageBudget, "publish">;
  logView: LogView & { log: { get(seq: number): Message | null } };
  archive: Archive | null;
}

/**
 * A message published over REST (the Worker's POST /rooms/:id/messages): the
 * same path, order and dedupe as a WebSocket send, and the same budget: each
 * publish, a duplicate too, takes a token from the user's bucket that the
 * user's sockets draw from. A duplicate answers with the message first stored.
 */
export async function publish(parts: RestParts, room: Room, user: User, input: PublishRequest): Promise<PublishResult> {
  const retryAfterS = parts.budget.publish(user.id, Date.now());
  if (retryAfterS > 0) return { ok: false, code: "rate_limited", retryAfterS };
  const outcome = await parts.committer.accept(room, user, input.clientMsgId, input.body).catch(() => ({ kind: "unavailable" as const }));
  switch (outcome.kind) {
    case "stored":
      return { ok: true, message: outcome.message, duplicate: false };
    case "duplicate": {
      const original = await messageAt(parts, outcome.seq);
      return original ? { ok: true, message: original, duplicate: true } : { ok: false, code: "database_unavailable" };
    }
    case "unavailable":
      return { ok: false, code: "database_unavailable" };
    case "overloaded":
    case "moved":
      return { ok: false, code: "overloaded" };
  }
}

/** A page of history, ascending, from the room's log and PostgreSQL beyond it; nothing past the visible head. */
export async function history(parts: RestParts, range: HistoryRange): Promise<HistoryResult> {
  const head = parts.committer.visibleHead();
  try {
    const messages =
      range.after !== undefined
        ? await readAfter(parts.logView, parts.archive, range.after, range.limit)
        : await readBefore(parts.logView, parts.archive, Math.min(range.before ?? head + 1, head + 1), range.limit);
    return { ok: true, messages: messages.filter((m) => m.seq <= head) };
  } catch (error) {
    if (error instanceof ArchiveUnavailable) return { ok: false, code: "database_unavailable" };
    throw error;
  }
}

/** One message by seq, from the log or PostgreSQL; null when neither has it. */
async function messageAt(parts: RestParts, seq: number): Promise<Message | null> {
  const fromLog = parts.logView.log.get(seq);
  if (fromLog) return fromLog;
  try {
    const [archived] = await readAfter(parts.logView, parts.archive, seq - 1, 1);
    return archived?.seq === seq ? archived : null;
  } catch {
    return null;
  }
}
