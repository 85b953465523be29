import { RoomSchema, type Message, type Room, type User } from "../../protocol/index.ts";

type MessageRow = {
  seq: number;
  id: string;
  user_id: string;
  username: string;
  body: string;
  client_msg_id: string;
  created_at: string;
};

/** How often the pruning that reads the whole log (by age, old client ids) runs. */
const SLOW_PRUNE_EVERY_MS = 60_000;

const COLUMNS = "seq, id, user_id, username, body, client_msg_id, created_at";
const M_COLUMNS = COLUMNS.split(", ").map((c) => `m.${c}`).join(", ");

/**
 * The room's own SQLite: the message log (the source of truth for order),
 * the outbox of messages not yet copied to PostgreSQL, the dedupe window of
 * client message ids, and metadata. Every method is synchronous; SQLite
 * writes are covered by the output gate, so nothing sent after a write leaves
 * the object before the write is durable.
 */
export class RoomStore {
  readonly #sql: SqlStorage;
  readonly #storage: DurableObjectStorage;
  readonly #metaCache = new Map<string, string | null>();
  #head: number;
  #outboxDepth: number;
  /**
   * Outbox entries up to this seq are in PostgreSQL but their rows may still
   * be here: they are deleted with the next append, in its transaction, so
   * that a copy costs no disk commit of its own. In memory only: after a
   * restart they are copied once more, which the insert skips.
   */
  #copiedThrough = 0;
  #deletedThrough = 0;
  /** The count-based prune has nothing to do until `head - count` passes this. */
  #prunedThrough = -1;
  /** When the age-based part of {@link prune} last ran (in memory: after a restart it runs at the first copy). */
  #slowPruneAt = 0;
  // Read on every frame, so kept in memory once loaded.
  #room: Room | null | undefined;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#sql = storage.sql;
    // Created once, before any message is handled (the constructor runs first).
    this.#sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS messages (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        username TEXT NOT NULL,
        body TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY);
      CREATE TABLE IF NOT EXISTS sent (
        user_id TEXT NOT NULL,
        client_msg_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, client_msg_id)
      );
      CREATE INDEX IF NOT EXISTS sent_at ON sent (at_ms);
    `);
    // The head lives in meta as well: pruning may empty the log, and a seq
    // must never be handed out twice.
    const logHead = this.#sql.exec<{ head: number | null }>("SELECT max(seq) AS head FROM messages").one().head ?? 0;
    this.#head = Math.max(logHead, this.counter("head"));
    // Entries whose message was pruned were copied already (a pending message
    // is never pruned); they go with the first append after the next copy.
    this.#outboxDepth = this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox o JOIN messages m ON m.seq = o.seq").one().n;
  }

  /** The highest seq handed out, 0 for an empty room. */
  get head(): number {
    return this.#head;
  }

  /** The lowest seq still in the log; `head + 1` when the log is empty. */
  get floor(): number {
    return this.#sql.exec<{ floor: number | null }>("SELECT min(seq) AS floor FROM messages").one().floor ?? this.#head + 1;
  }

  /** True once the head was reconciled with PostgreSQL's archive (see ChatRoom#ready). */
  get headChecked(): boolean {
    return this.counter("head_checked") === 1;
  }

  /** Continues after `archivedHead` when PostgreSQL knows more than this storage. */
  adoptArchivedHead(archivedHead: number): void {
    this.#transaction(() => {
      if (archivedHead > this.#head) {
        this.#head = archivedHead;
        this.setCounter("head", archivedHead);
      }
      this.setCounter("head_checked", 1);
    });
  }

  /** The room this object serves, once the Worker has told it. */
  get room(): Room | null {
    if (this.#room !== undefined) return this.#room;
    const value = this.#meta("room");
    const parsed = value === null ? undefined : RoomSchema.safeParse(JSON.parse(value));
    this.#room = parsed?.success ? parsed.data : null;
    return this.#room;
  }

  /** Remembers the room's metadata (the Worker sends it with every call). */
  saveRoom(room: Room): void {
    const current = this.room;
    if (current && current.id === room.id && current.name === room.name && current.type === room.type) return;
    this.#room = room;
    this.#sql.exec(
      "INSERT INTO meta (key, value) VALUES ('room', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      JSON.stringify(room),
    );
    this.#metaCache.set("room", JSON.stringify(room));
  }

  /**
   * The seq this user's message with this client id got, if it was stored
   * at or after `since` (the start of the dedupe window). Entries older than
   * the window are ignored here, so that pruning them can be lazy.
   */
  findSent(userId: string, clientMsgId: string, since: number): number | null {
    const row = this.#sql
      .exec<{ seq: number }>("SELECT seq FROM sent WHERE user_id = ? AND client_msg_id = ? AND at_ms >= ?", userId, clientMsgId, since)
      .toArray()[0];
    return row?.seq ?? null;
  }

  /** One message from the log, if it is still there. */
  get(roomId: string, seq: number): Message | null {
    const row = this.#sql.exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq = ?`, seq).toArray()[0];
    return row ? toMessage(roomId, row) : null;
  }

  /** Stores a new message with the next seq, queues it for PostgreSQL and remembers its client id, in one transaction. */
  append(roomId: string, user: User, clientMsgId: string, body: string, now = Date.now()): Message {
    const message: Message = {
      seq: this.#head + 1,
      id: crypto.randomUUID(),
      roomId,
      userId: user.id,
      username: user.username,
      body,
      clientMsgId,
      createdAt: new Date(now).toISOString(),
    };
    this.#transaction(() => {
      if (this.#copiedThrough > this.#deletedThrough) {
        this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", this.#copiedThrough);
      }
      this.#sql.exec(
        `INSERT INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
        message.seq,
        message.id,
        message.userId,
        message.username,
        message.body,
        message.clientMsgId,
        message.createdAt,
      );
      this.#sql.exec("INSERT INTO outbox (seq) VALUES (?)", message.seq);
      this.#sql.exec(
        "INSERT OR REPLACE INTO sent (user_id, client_msg_id, seq, at_ms) VALUES (?, ?, ?, ?)",
        message.userId,
        message.clientMsgId,
        message.seq,
        now,
      );
      this.setCounter("head", message.seq);
    });
    // Only after the transaction committed: a failed write leaves no gap.
    this.#deletedThrough = this.#copiedThrough;
    this.#head = message.seq;
    this.#outboxDepth += 1;
    return message;
  }

  /** Log messages with afterSeq < seq < beforeSeq, ascending, at most `limit`. */
  range(roomId: string, afterSeq: number, beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(
        `SELECT ${COLUMNS} FROM messages WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?`,
        afterSeq,
        beforeSeq,
        limit,
      )
      .toArray()
      .map((row) => toMessage(roomId, row));
  }

  /** The newest `limit` log messages before `beforeSeq`, ascending. */
  latest(roomId: string, beforeSeq: number, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(`SELECT ${COLUMNS} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`, beforeSeq, limit)
      .toArray()
      .reverse()
      .map((row) => toMessage(roomId, row));
  }

  /** The oldest messages still waiting for PostgreSQL, ascending. */
  outboxBatch(roomId: string, limit: number): Message[] {
    return this.#sql
      .exec<MessageRow>(
        `SELECT ${M_COLUMNS} FROM outbox o JOIN messages m ON m.seq = o.seq WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
        this.#copiedThrough,
        limit,
      )
      .toArray()
      .map((row) => toMessage(roomId, row));
  }

  /**
   * PostgreSQL holds the outbox's oldest `count` entries, up to and including
   * `seq`: they stop counting at once, and their rows go with the next append.
   */
  markCopied(seq: number, count: number): void {
    if (seq <= this.#copiedThrough) return;
    this.#copiedThrough = seq;
    this.#outboxDepth = Math.max(0, this.#outboxDepth - count);
  }

  /**
   * Multi-process mode: the highest seq PostgreSQL is known to hold, set after
   * each commit. Messages above it are neither acknowledged nor broadcast.
   */
  get committed(): number {
    return this.#committedMark() ?? this.#head;
  }

  /** Multi-process mode: PostgreSQL committed everything up to `seq`. */
  markCommitted(seq: number): void {
    if (seq > (this.#committedMark() ?? 0)) this.setCounter("committed", seq);
  }

  #committedMark(): number | null {
    const value = this.#meta("committed");
    return value === null ? null : Number(value);
  }

  /**
   * meta is read on every send and upgrade (outbox timing, head, marks) and
   * written only here, so its rows are kept in memory once read (a load-test
   * profile had these reads among the room's hottest lines).
   */
  #meta(key: string): string | null {
    const cached = this.#metaCache.get(key);
    if (cached !== undefined) return cached;
    const value = this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
    this.#metaCache.set(key, value);
    return value;
  }

  /** A write transaction; a rolled-back one leaves no stale meta in memory. */
  #transaction(work: () => void): void {
    try {
      this.#storage.transactionSync(work);
    } catch (error) {
      this.#metaCache.clear();
      throw error;
    }
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
    this.#transaction(() => {
      const mark = this.#committedMark();
      const committed = mark ?? this.#head;
      if (mark !== null) {
        this.#sql.exec("DELETE FROM sent WHERE seq > ?", committed);
        this.#sql.exec("DELETE FROM messages WHERE seq > ?", committed);
        this.#sql.exec("DELETE FROM outbox");
        this.#outboxDepth = 0;
        this.#deletedThrough = this.#copiedThrough;
      }
      const fresh = archived.filter((m) => m.seq > committed);
      const first = fresh[0];
      // Keep the log contiguous: if PostgreSQL's page starts past it, the old part goes (PostgreSQL has it).
      if (first && first.seq > committed + 1) this.#sql.exec("DELETE FROM messages WHERE seq < ?", first.seq);
      for (const m of fresh) {
        this.#sql.exec(
          `INSERT OR IGNORE INTO messages (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          m.seq, m.id, m.userId, m.username, m.body, m.clientMsgId, m.createdAt,
        );
        this.#sql.exec(
          "INSERT OR REPLACE INTO sent (user_id, client_msg_id, seq, at_ms) VALUES (?, ?, ?, ?)",
          m.userId, m.clientMsgId, m.seq, Date.parse(m.createdAt),
        );
      }
      const head = Math.max(committed, archivedHead, fresh.at(-1)?.seq ?? 0);
      this.#head = head;
      this.setCounter("head", head);
      this.setCounter("committed", mark === null ? head - this.#outboxDepth : head);
      this.setCounter("head_checked", 1);
    });
  }

  /** Messages still waiting for PostgreSQL. */
  get outboxDepth(): number {
    return this.#outboxDepth;
  }

  /**
   * Applies retention: drops copied messages beyond the newest `count` or
   * older than `ageMs`, and client ids older than the dedupe window. A message
   * still in the outbox is never dropped. Returns the messages dropped.
   */
  prune(now: number, retention: { count: number; ageMs: number }, dedupeWindowMs: number): number {
    // By count when the head has moved past the retention since the last
    // time: a range of the primary key. Nothing is written otherwise.
    let dropped = 0;
    const through = this.#head - retention.count;
    if (through > this.#prunedThrough) {
      dropped = this.#sql.exec(
        "DELETE FROM messages WHERE seq <= ? AND seq NOT IN (SELECT seq FROM outbox WHERE seq > ?)",
        through,
        this.#copiedThrough,
      ).rowsWritten;
      this.#prunedThrough = through;
    }
    // By age, and old client ids, at most once a minute: `created_at` has no
    // index, so this reads the whole log (a profile of the seed load had the
    // per-copy scan among the room's hottest lines); findSent ignores ids past
    // the window meanwhile.
    if (now - this.#slowPruneAt >= SLOW_PRUNE_EVERY_MS) {
      this.#slowPruneAt = now;
      const cutoff = new Date(now - retention.ageMs).toISOString();
      dropped += this.#sql.exec(
        "DELETE FROM messages WHERE created_at < ? AND seq NOT IN (SELECT seq FROM outbox WHERE seq > ?)",
        cutoff,
        this.#copiedThrough,
      ).rowsWritten;
      this.#sql.exec("DELETE FROM sent WHERE at_ms < ?", now - dedupeWindowMs);
    }
    return dropped;
  }

  /** Reads a numeric value from meta (0 when unset). */
  counter(key: string): number {
    return Number(this.#meta(key) ?? 0);
  }

  /** Writes a numeric value to meta. */
  setCounter(key: string, value: number): void {
    const text = String(value);
    // Unchanged values are not written again (each write is a commit to disk).
    if (this.#meta(key) === text) return;
    this.#sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, text);
    this.#metaCache.set(key, text);
  }
}

function toMessage(roomId: string, row: MessageRow): Message {
  return {
    seq: row.seq,
    id: row.id,
    roomId,
    userId: row.user_id,
    username: row.username,
    body: row.body,
    clientMsgId: row.client_msg_id,
    createdAt: row.created_at,
  };
}
