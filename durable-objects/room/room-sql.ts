/**
 * The part of a Durable Object's SQLite the room uses: `exec` and
 * synchronous transactions. The room gets `ctx.storage`; unit tests get
 * Node's own SQLite through the same interface (test/support/node-sqlite.ts).
 */
export interface RoomSql {
  exec<T extends Record<string, SqlStorageValue>>(query: string, ...bindings: SqlStorageValue[]): SqlRows<T>;
  transactionSync<T>(work: () => T): T;
}

/** What one statement gives back. */
export interface SqlRows<T> {
  toArray(): T[];
  one(): T;
  readonly rowsWritten: number;
}

/** The room's SQLite as {@link RoomSql}. */
export function durableSql(storage: DurableObjectStorage): RoomSql {
  const sql = storage.sql;
  return {
    exec: (query, ...bindings) => sql.exec(query, ...bindings),
    transactionSync: (work) => storage.transactionSync(work),
  };
}

/**
 * Small named values (the head, marks, the outbox's retry state, the room's
 * metadata). Read on every send and upgrade and written only through here, so
 * rows are kept in memory once read (a load-test profile had these reads
 * among the room's hottest lines). Each key has one owner module.
 */
export class Meta {
  readonly #sql: RoomSql;
  readonly #cache = new Map<string, string | null>();

  constructor(sql: RoomSql) {
    this.#sql = sql;
    sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }

  get(key: string): string | null {
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached;
    const value = this.#sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? null;
    this.#cache.set(key, value);
    return value;
  }

  /** Writes a value; an unchanged one is not written again (each write is a commit to disk). */
  set(key: string, value: string): void {
    if (this.get(key) === value) return;
    this.#sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
    this.#cache.set(key, value);
  }

  /** A numeric value, 0 when unset. */
  counter(key: string): number {
    return Number(this.get(key) ?? 0);
  }

  setCounter(key: string, value: number): void {
    this.set(key, String(value));
  }

  /** A numeric value, null when unset. */
  mark(key: string): number | null {
    const value = this.get(key);
    return value === null ? null : Number(value);
  }

  /** Forgets what is cached (after a rolled-back transaction). */
  forget(): void {
    this.#cache.clear();
  }
}

/**
 * One write transaction over the room's tables. Work inside it only writes
 * SQL; what modules keep in memory changes in `afterCommit` callbacks, which
 * run only once the transaction committed, so a failed write leaves neither a
 * gap nor stale state.
 */
export class Transaction {
  readonly #after: (() => void)[] = [];

  afterCommit(update: () => void): void {
    this.#after.push(update);
  }

  static run(sql: RoomSql, meta: Meta, work: (tx: Transaction) => void): void {
    const tx = new Transaction();
    try {
      sql.transactionSync(() => work(tx));
    } catch (error) {
      meta.forget();
      throw error;
    }
    for (const update of tx.#after) update();
  }
}
