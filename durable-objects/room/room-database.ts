import { withTimeout } from "../../sql/db.ts";
import type { Config } from "../../core/config.ts";
import type { Database } from "../database/database.ts";
import { databaseFor } from "../database/shard.ts";
import type { Archive } from "./history.ts";

/** Slack on top of DATABASE_TIMEOUT for a call to the database service (which applies the timeout itself). */
const SERVICE_SLACK_MS = 2000;

/**
 * The room's way to PostgreSQL: the process's database service
 * (durable-objects/database), the only one. Every call is bounded in time,
 * even if the service does not answer.
 */
export class RoomDatabase {
  readonly #env: Env;
  readonly #config: Config;
  readonly #roomId: () => string | undefined;

  constructor(env: Env, config: Config, roomId: () => string | undefined) {
    this.#env = env;
    this.#config = config;
    this.#roomId = roomId;
  }

  /** False when no PostgreSQL is configured (DATABASE_URL unset). */
  get configured(): boolean {
    return Boolean(this.#config.databaseUrl);
  }

  /** How long a call may take before the room gives up on it. */
  get timeoutMs(): number {
    return this.#config.databaseTimeoutMs + SERVICE_SLACK_MS;
  }

  /** The service object for this room (sharded on Cloudflare, one per process self-hosted). */
  service(roomId: string): DurableObjectStub<Database> {
    return databaseFor(this.#env, this.#config.databaseShards, roomId);
  }

  /** A call to the service for this room, bounded by {@link timeoutMs}; throws when none is configured. */
  async call<T>(what: string, work: (db: DurableObjectStub<Database>, roomId: string) => PromiseLike<T>): Promise<T> {
    const roomId = this.#roomId();
    if (!this.configured || roomId === undefined) throw new Error("no database configured");
    return withTimeout(Promise.resolve(work(this.service(roomId), roomId)), this.timeoutMs, what);
  }

  /** Reads of the room's archive for history and resume; null when no PostgreSQL is configured. */
  archive(): Archive | null {
    if (!this.configured) return null;
    return (range) => this.call("archive read", (db, roomId) => db.select(roomId, range));
  }
}
