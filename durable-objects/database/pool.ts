import { isConnectionError, withTimeout, type Sql } from "../../sql/db.ts";
import { createWorkerdSql } from "../../sql/workerd.ts";

/**
 * The process's long-lived PostgreSQL connections, held by the Database
 * object. workerd ties a socket to the object that opened it, so these live
 * here and every room and Worker request reaches them by RPC instead of
 * opening connections of its own (a fresh backend per piece of work forked
 * PostgreSQL by the hundred per second under load; see docs/performance.md).
 * A call that times out or breaks its connection drops the whole client: a
 * timed-out query leaves its connection waiting for a reply that workerd was
 * seen never to deliver (test/e2e/slow-consumers.test.ts), so the next call
 * starts on fresh connections.
 */
export class Pool {
  readonly #url: string;
  readonly #max: number;
  readonly #timeoutMs: number;
  #sql: Sql | undefined;

  constructor(url: string, options: { max: number; timeoutMs: number }) {
    this.#url = url;
    this.#max = Math.max(1, options.max);
    this.#timeoutMs = options.timeoutMs;
  }

  /** Runs `work` on one of the pool's connections, within DATABASE_TIMEOUT. */
  async run<T>(what: string, work: (sql: Sql) => Promise<T>): Promise<T> {
    const sql = (this.#sql ??= createWorkerdSql(this.#url, { max: this.#max, idleTimeout: 60, connectTimeout: 5 }));
    try {
      return await withTimeout(work(sql), this.#timeoutMs, what);
    } catch (error) {
      if (isConnectionError(error) || (error instanceof Error && /timed out/.test(error.message))) this.#drop(sql);
      throw error;
    }
  }

  /** Closes every connection (the object is shutting down, or a connection broke). */
  close(): void {
    if (this.#sql) this.#drop(this.#sql);
  }

  #drop(sql: Sql): void {
    if (this.#sql !== sql) return;
    this.#sql = undefined;
    sql.end({ timeout: 1 }).catch(() => {});
  }
}
