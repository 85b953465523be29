import type { Message, User } from "../../protocol/index.ts";
import type { RoomStore } from "./storage.ts";

/** How often the pruning that reads the whole log (by age, old client ids) runs. */
const SLOW_PRUNE_EVERY_MS = 60_000;

/** What the room does with a message it was given. */
export type Accepted = { kind: "stored"; message: Message } | { kind: "duplicate"; seq: number } | { kind: "overloaded" };

/** Limits the sequencer applies. */
export interface SequencerLimits {
  dedupeWindowMs: number;
  /** Messages waiting for PostgreSQL before new ones are refused. */
  outboxMaxPending: number;
  logRetention: { count: number; ageMs: number };
}

/**
 * Order and dedupe: hands out the gapless `seq`, finds resends inside the
 * dedupe window, and appends a message to the log, the outbox and the dedupe
 * window in one transaction. The head lives in meta as well as in the log:
 * pruning may empty the log, and a seq must never be handed out twice.
 */
export class Sequencer {
  readonly #store: RoomStore;
  readonly #limits: SequencerLimits;
  readonly #clock: () => number;
  #head: number;
  /** The count-based prune has nothing to do until `head - count` passes this. */
  #prunedThrough = -1;
  /** When the age-based part of {@link prune} last ran (in memory: after a restart it runs at the first copy). */
  #slowPruneAt = 0;

  constructor(store: RoomStore, limits: SequencerLimits, clock: () => number = Date.now) {
    this.#store = store;
    this.#limits = limits;
    this.#clock = clock;
    this.#head = Math.max(store.log.top(), store.meta.counter("head"));
  }

  /** The highest seq handed out, 0 for an empty room. */
  get head(): number {
    return this.#head;
  }

  /**
   * Multi-process mode: the highest seq PostgreSQL is known to hold, set after
   * each commit. Messages above it are neither acknowledged nor broadcast.
   */
  get committed(): number {
    return this.#store.meta.mark("committed") ?? this.#head;
  }

  /** True once the head was reconciled with PostgreSQL's archive (see the committers' `ready`). */
  get headChecked(): boolean {
    return this.#store.meta.counter("head_checked") === 1;
  }

  /** The lowest seq still in the log; `head + 1` when the log is empty. */
  get floor(): number {
    return this.#store.log.floor() ?? this.#head + 1;
  }

  /** Stores a new message with the next seq, or finds the seq of a resend, or refuses when too much waits for PostgreSQL. */
  accept(user: User, clientMsgId: string, body: string): Accepted {
    const now = this.#clock();
    const seen = this.#store.sent.find(user.id, clientMsgId, now - this.#limits.dedupeWindowMs);
    if (seen !== null) return { kind: "duplicate", seq: seen };
    if (this.#store.outbox.depth >= this.#limits.outboxMaxPending) return { kind: "overloaded" };
    return { kind: "stored", message: this.#append(user, clientMsgId, body, now) };
  }

  #append(user: User, clientMsgId: string, body: string, now: number): Message {
    const message: Message = {
      seq: this.#head + 1,
      id: crypto.randomUUID(),
      roomId: this.#store.room?.id ?? "",
      userId: user.id,
      username: user.username,
      body,
      clientMsgId,
      createdAt: new Date(now).toISOString(),
    };
    this.#store.transaction((tx) => {
      this.#store.outbox.enqueue(tx, message.seq);
      this.#store.log.insert(message);
      this.#store.sent.remember(message.userId, message.clientMsgId, message.seq, now);
      this.#store.meta.setCounter("head", message.seq);
      tx.afterCommit(() => {
        this.#head = message.seq;
      });
    });
    return message;
  }

  /** Continues after `archivedHead` when PostgreSQL knows more than this storage. */
  adoptArchivedHead(archivedHead: number): void {
    this.#store.transaction((tx) => {
      if (archivedHead > this.#head) {
        this.#store.meta.setCounter("head", archivedHead);
        tx.afterCommit(() => {
          this.#head = archivedHead;
        });
      }
      this.#store.meta.setCounter("head_checked", 1);
    });
  }

  /** Multi-process mode: PostgreSQL committed everything up to `seq`. */
  markCommitted(seq: number): void {
    if (seq > (this.#store.meta.mark("committed") ?? 0)) this.#store.meta.setCounter("committed", seq);
  }

  /**
   * Multi-process mode, after this process claimed the room: drops what was
   * appended but never committed (never acknowledged nor broadcast; its
   * senders resend it), then takes PostgreSQL's newest messages beyond the
   * local log, with their client ids for dedupe, and continues after them.
   * A room that never ran in this mode keeps its outbox: those messages were
   * acknowledged, and the room copies them under its lease.
   */
  adoptArchive(archived: readonly Message[], archivedHead: number): void {
    const { log, sent, outbox, meta } = this.#store;
    this.#store.transaction((tx) => {
      const mark = meta.mark("committed");
      const committed = mark ?? this.#head;
      if (mark !== null) {
        sent.forgetAbove(committed);
        log.dropAbove(committed);
        outbox.clear(tx);
      }
      const fresh = archived.filter((m) => m.seq > committed);
      const first = fresh[0];
      // Keep the log contiguous: if PostgreSQL's page starts past it, the old part goes (PostgreSQL has it).
      if (first && first.seq > committed + 1) log.dropBelow(first.seq);
      for (const m of fresh) {
        log.insert(m, true);
        sent.remember(m.userId, m.clientMsgId, m.seq, Date.parse(m.createdAt));
      }
      const head = Math.max(committed, archivedHead, fresh.at(-1)?.seq ?? 0);
      meta.setCounter("head", head);
      meta.setCounter("committed", mark === null ? head - outbox.depth : head);
      meta.setCounter("head_checked", 1);
      tx.afterCommit(() => {
        this.#head = head;
      });
    });
  }

  /**
   * Applies retention after a copy: drops copied messages beyond the newest
   * `count` or older than `ageMs`, and client ids older than the dedupe
   * window. A message still in the outbox is never dropped. Returns the
   * messages dropped.
   */
  prune(): number {
    const now = this.#clock();
    const { count, ageMs } = this.#limits.logRetention;
    const keepFrom = this.#store.outbox.firstPending();
    // By count when the head has moved past the retention since the last
    // time: a range of the primary key. Nothing is written otherwise.
    let dropped = 0;
    const through = this.#head - count;
    if (through > this.#prunedThrough) {
      dropped = this.#store.log.dropThrough(through, keepFrom);
      // Messages still waiting for PostgreSQL were kept: look again once they are copied.
      this.#prunedThrough = Math.min(through, keepFrom - 1);
    }
    // By age, and old client ids, at most once a minute: `created_at` has no
    // index, so this reads the whole log (a profile of the seed load had the
    // per-copy scan among the room's hottest lines); the dedupe lookup ignores
    // ids past the window meanwhile.
    if (now - this.#slowPruneAt >= SLOW_PRUNE_EVERY_MS) {
      this.#slowPruneAt = now;
      dropped += this.#store.log.dropOlderThan(new Date(now - ageMs), keepFrom);
      this.#store.sent.forgetBefore(now - this.#limits.dedupeWindowMs);
    }
    return dropped;
  }
}
