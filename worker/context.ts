import type { Context } from "hono";
import type { z } from "zod";
import type { User } from "../protocol/index.ts";
import { isConnectionError, type Sql } from "../sql/db.ts";
import { acquireSlot, releaseSlot } from "../sql/slots.ts";
import { createWorkerdSql } from "../sql/workerd.ts";
import { bindQueries, viaRunner, type Queries } from "../sql/worker-queries.ts";
import { databaseFor } from "../durable-objects/database/shard.ts";
import { readConfig, type Config } from "../core/config.ts";
import { ApiError } from "./errors.ts";

/** Hono's environment for every route. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    user: User;
    /** Token expiry of the authenticated request, seconds since the epoch. */
    tokenExp: number;
    /** This request's PostgreSQL client, made on first use and cleared when closed. */
    sql: Sql | undefined;
    /** X-Request-Id of this request (the client's, or a new one); in every log line. */
    requestId: string;
  };
}

/** The context every handler receives. */
export type AppContext = Context<AppEnv>;

/** Config for this request (parsed once per request by the app's first middleware). */
export function configOf(c: AppContext): Config {
  return c.get("config") ?? readConfig(c.env);
}

/**
 * This request's way to PostgreSQL. With a Hyperdrive binding (Cloudflare)
 * and no DATABASE_URL, a connection of the request's own, which Hyperdrive
 * pools. Otherwise (self-hosted, local) the process's database service runs
 * the query on its long-lived connections: workerd cannot share a socket
 * between requests, and a connection per request forked a PostgreSQL
 * backend per login (docs/performance.md).
 */
export async function database(c: AppContext): Promise<Queries> {
  const config = configOf(c);
  if (!config.databaseUrl) throw new ApiError("database_unavailable", "no database configured (DATABASE_URL or HYPERDRIVE)");
  if (config.workerDatabase === "service") {
    const service = databaseFor(c.env, config.databaseShards, "worker");
    return viaRunner(async (name, args) => {
      try {
        return await service.query(name, [...args]);
      } catch (error) {
        throw unavailable(error);
      }
    });
  }
  return bindQueries(await directConnection(c, config));
}

/** A failure to reach PostgreSQL (through the service) becomes 503; anything else stays an error. */
function unavailable(error: unknown): unknown {
  if (isConnectionError(error) || (error instanceof Error && /timed out|no database/i.test(error.message))) {
    return new ApiError("database_unavailable", "database unavailable, retry later");
  }
  return error;
}

async function directConnection(c: AppContext, config: Config): Promise<Sql> {
  const existing = c.get("sql");
  if (existing) return existing;
  try {
    await acquireSlot(config.databaseMaxConnections, config.databaseTimeoutMs);
  } catch {
    throw new ApiError("database_unavailable", "database busy, retry later");
  }
  const sql = createWorkerdSql(config.databaseUrl ?? "", { max: 1, idleTimeout: 2 });
  c.set("sql", sql);
  return sql;
}

/**
 * Ends this request's PostgreSQL connection (left open it would hold a
 * server slot until its idle timeout) and gives the slot back. The app calls
 * it after every request; routes that go on to a room call it before, so
 * that a busy room does not hold a connection slot.
 */
export function closeDatabase(c: AppContext): void {
  const sql = c.get("sql");
  if (!sql) return;
  c.set("sql", undefined);
  // The slot is free now: the close finishes in the background, and a close
  // that never completes (a request cancelled by its client) must not leak it.
  releaseSlot();
  c.executionCtx.waitUntil(sql.end({ timeout: 1 }).catch(() => {}));
}

const MAX_JSON_BYTES = 64 * 1024;

/** Reads and validates a JSON body: 413 when too large, 400 `invalid_json` / `invalid_request` when wrong. */
export async function readBody<T extends z.ZodType>(c: AppContext, schema: T): Promise<z.infer<T>> {
  const declared = Number(c.req.header("Content-Length") ?? "0");
  if (declared > MAX_JSON_BYTES) throw new ApiError("payload_too_large", `body larger than ${MAX_JSON_BYTES} bytes`);
  const text = await c.req.text();
  if (text.length > MAX_JSON_BYTES) throw new ApiError("payload_too_large", `body larger than ${MAX_JSON_BYTES} bytes`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ApiError("invalid_json", "request body is not valid JSON");
  }
  return validate(schema, data);
}

/** Validates a value against a schema, answering 400 `invalid_request` with the first problem. */
export function validate<T extends z.ZodType>(schema: T, data: unknown): z.infer<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  throw new ApiError("invalid_request", `${where}${issue?.message ?? "invalid request"}`);
}
