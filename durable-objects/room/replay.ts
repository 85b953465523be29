import { encodeServerFrame, type Message } from "../../protocol/index.ts";
import { ArchiveUnavailable, readAfter, type Archive, type LogView } from "./history.ts";
import { send, type Sessions } from "./sessions.ts";
import { errorText } from "./committer.ts";

/** Messages replayed per resume; past it the client gets `resync_required` and pages history. */
export const RESUME_MAX = 1000;

/** What a replay reads from and writes to. */
export interface ReplayParts extends LogView {
  archive: Archive | null;
  sessions: Pick<Sessions, "hold" | "release" | "deliver">;
  /** The newest seq clients may see. */
  head: number;
  /** Counts messages delivered. */
  delivered(count: number): void;
}

/**
 * Sends what a reconnecting client missed after `lastSeq`: up to
 * {@link RESUME_MAX} messages from the log and PostgreSQL, then what was
 * broadcast meanwhile (held for this socket while the replay is read). If
 * that cannot close the gap (the cap, PostgreSQL unreachable, or a hole in
 * the archive) the client gets `resync_required` with the first seq it
 * lacks, never a silent hole.
 */
export async function replay(parts: ReplayParts, ws: WebSocket, roomId: string, lastSeq: number): Promise<void> {
  const head = parts.head;
  if (lastSeq > head) {
    // The client saw seqs this room does not have: its view cannot be trusted.
    send(ws, { type: "resync_required", fromSeq: head + 1 });
    return;
  }
  parts.sessions.hold(ws);
  let messages: Message[] = [];
  try {
    messages = (await readAfter(parts, parts.archive, lastSeq, RESUME_MAX)).filter((m) => m.seq <= head);
  } catch (error) {
    // Unreachable archive or a failure of our own: either way the client is
    // told where its stream breaks, and the frames held for it still flow.
    if (!(error instanceof ArchiveUnavailable)) console.error(`room ${roomId}: resume failed: ${errorText(error)}`);
  }
  let delivered = 0;
  for (const message of messages) {
    if (parts.sessions.deliver(ws, encodeServerFrame({ type: "message", ...message }))) delivered += 1;
  }
  parts.delivered(delivered);
  const lastSent = messages.at(-1)?.seq ?? lastSeq;
  if (lastSent < head) send(ws, { type: "resync_required", fromSeq: lastSent + 1 });
  for (const frame of parts.sessions.release(ws)) {
    if (frame.type !== "message" || frame.seq > lastSent) parts.sessions.deliver(ws, encodeServerFrame(frame));
  }
}
