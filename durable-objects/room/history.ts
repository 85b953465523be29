import type { Message } from "../../protocol/index.ts";
import type { MessageLog } from "./message-log.ts";

/** The room's log as history reads it. */
export interface LogView {
  log: Pick<MessageLog, "range" | "latest">;
  /** The lowest seq in the log; `head + 1` when it is empty. */
  floor(): number;
}

/** Reads archived messages from PostgreSQL (see sql/queries.ts selectMessages). */
export type Archive = (range: { afterSeq: number; beforeSeq: number; limit: number; newest?: boolean }) => Promise<Message[]>;

/** PostgreSQL was needed to answer and could not be reached. */
export class ArchiveUnavailable extends Error {
  constructor(cause?: unknown) {
    super(`archive unavailable: ${cause instanceof Error ? cause.message : String(cause ?? "not configured")}`);
    this.name = "ArchiveUnavailable";
  }
}

async function fromArchive(archive: Archive | null, range: Parameters<Archive>[0]): Promise<Message[]> {
  if (!archive) throw new ArchiveUnavailable();
  try {
    return await archive(range);
  } catch (error) {
    throw new ArchiveUnavailable(error);
  }
}

/**
 * The oldest `limit` messages after `afterSeq`, ascending: from PostgreSQL
 * below the room log's floor, from the log above it (so messages not yet
 * copied are included). Stops at the first gap, so the answer is always a
 * contiguous run starting at `afterSeq + 1` (possibly shorter than asked).
 */
export async function readAfter(store: LogView, archive: Archive | null, afterSeq: number, limit: number): Promise<Message[]> {
  // While PostgreSQL answers, the alarm may copy and prune more of the log,
  // raising its floor past what the archive read covered; read again then.
  for (let attempt = 0; ; attempt++) {
    const floor = store.floor();
    const out: Message[] = [];
    if (afterSeq + 1 < floor) {
      out.push(...(await fromArchive(archive, { afterSeq, beforeSeq: floor, limit })));
    }
    if (store.floor() !== floor && attempt < 3) continue;
    const last = out.at(-1)?.seq ?? afterSeq;
    if (out.length < limit) out.push(...store.log.range(last, Number.MAX_SAFE_INTEGER, limit - out.length));
    return contiguousFrom(afterSeq + 1, out);
  }
}

/**
 * The newest `limit` messages before `beforeSeq`, ascending: the log first,
 * PostgreSQL for what lies below the log's floor.
 */
export async function readBefore(store: LogView, archive: Archive | null, beforeSeq: number, limit: number): Promise<Message[]> {
  const fromLog = store.log.latest(beforeSeq, limit);
  const lowest = fromLog[0]?.seq ?? Math.min(beforeSeq, store.floor());
  if (fromLog.length === limit || lowest <= 1) return fromLog;
  const older = await fromArchive(archive, { afterSeq: 0, beforeSeq: lowest, limit: limit - fromLog.length, newest: true });
  return [...older, ...fromLog];
}

/** The longest prefix of `messages` whose seqs run `first, first + 1, …`. */
export function contiguousFrom(first: number, messages: readonly Message[]): Message[] {
  let expected = first;
  const out: Message[] = [];
  for (const message of messages) {
    if (message.seq !== expected) break;
    out.push(message);
    expected += 1;
  }
  return out;
}
