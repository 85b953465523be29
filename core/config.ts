import pkg from "../package.json" with { type: "json" };
import { DEFAULT_LIMITS } from "../protocol/index.ts";

/** Settings read from the environment, with the defaults of the README's table. */
export interface Config {
  environment: string;
  jwtIssuer: string;
  jwtAudience: string;
  tokenTtlSeconds: number;
  allowedOrigins: readonly string[];
  maxBodyChars: number;
  maxFrameBytes: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  outboxBatchSize: number;
  /** Messages the outbox may hold before sends are refused with `overloaded`. */
  outboxMaxPending: number;
  /** Copied messages the room log keeps: at most the newest `count`, none older than `ageMs`. */
  logRetention: { count: number; ageMs: number };
  /** How long a clientMsgId is remembered for dedupe. */
  dedupeWindowMs: number;
  /** How long a socket may outlive its token's `exp` before it is closed 4401. */
  authGraceMs: number;
  /** Bytes queued to one socket before it is closed 4001 as a slow consumer. */
  sendBufferMaxBytes: number;
  /** Messages a socket may be behind (by its receipts, or held during a resume) before it is closed 4001. */
  slowConsumerLag: number;
  /** Open sockets allowed in this runtime process; 0 means no limit. */
  maxConnections: number;
  /** Upper bound of the jittered `retryAfterMs` in `goaway` frames. */
  reconnectSpreadMs: number;
  /** Time limit of one PostgreSQL call made by a room, and of waiting for a connection slot. */
  databaseTimeoutMs: number;
  /**
   * PostgreSQL connections the process's database service holds
   * (durable-objects/database/pool.ts); with Hyperdrive, also the cap on the
   * Worker's per-request connections per isolate (sql/slots.ts).
   */
  databaseMaxConnections: number;
  /** Database service objects the rooms are spread over (durable-objects/database/shard.ts). */
  databaseShards: number;
  /** `debug` adds a line per request and per socket open and close; `info` logs errors, slow requests and events. */
  logLevel: "info" | "debug";
  /** This process's name among several behind nginx; set, rooms run in multi-process mode (leases, ack after commit). */
  nodeId: string | undefined;
  /** How long a room's lease outlives its owner's last renewal (multi-process mode). */
  leaseTtlMs: number;
  /** Shared secret of `POST /internal/drain`; unset disables the route. */
  drainToken: string | undefined;
  /** Bearer secret of `GET /metrics`; unset disables the route (the self-hosted metrics socket needs none). */
  metricsToken: string | undefined;
  /** Sentry DSN for unexpected errors; unset reports nothing. */
  sentryDsn: string | undefined;
  /** Release name reported with errors. */
  release: string;
  databaseUrl: string | undefined;
  /**
   * How the Worker's requests reach PostgreSQL: "hyperdrive" (the URL came
   * from the HYPERDRIVE binding: a connection per request, which Hyperdrive
   * pools) or "service" (DATABASE_URL: the process's database service).
   */
  workerDatabase: "service" | "hyperdrive";
}

type Vars = Partial<Record<string, unknown>>;

function text(vars: Vars, key: string): string | undefined {
  const value = vars[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** An integer of at least `min` (1 for counts and sizes, 0 where 0 means "no limit"). */
function integer(vars: Vars, key: string, fallback: number, min = 1): number {
  const raw = text(vars, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`config: ${key} must be an integer of at least ${min}, got "${raw}"`);
  }
  return value;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `30s`, `15m`, `24h` or `7d`. */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(raw.trim());
  return match?.[1] && match[2] ? Number(match[1]) * (UNIT_MS[match[2]] ?? 0) : undefined;
}

function duration(vars: Vars, key: string, fallback: string): number {
  const raw = text(vars, key) ?? fallback;
  const value = parseDuration(raw);
  if (value === undefined) throw new Error(`config: ${key} must be a duration like 30s, 15m, 24h or 7d, got "${raw}"`);
  return value;
}

/** `ROOM_LOG_RETENTION`: `<count>,<age>`, for example `10000,7d`. */
function retention(vars: Vars): { count: number; ageMs: number } {
  const raw = text(vars, "ROOM_LOG_RETENTION") ?? "10000,7d";
  const [countText = "", ageText = ""] = raw.split(",");
  const count = Number(countText.trim());
  const ageMs = parseDuration(ageText);
  if (!Number.isInteger(count) || count < 1 || ageMs === undefined) {
    throw new Error(`config: ROOM_LOG_RETENTION must look like 10000,7d, got "${raw}"`);
  }
  return { count, ageMs };
}

/**
 * The self-hosted build (scripts/build-workerd.ts) binds each setting to an
 * environment variable, which is null when unset, and passes wrangler.toml's
 * [vars] as ROOMCAST_DEFAULTS; a set variable wins.
 */
function withDefaults(env: Vars): Vars {
  const defaults = env.ROOMCAST_DEFAULTS;
  if (typeof defaults !== "object" || defaults === null) return env;
  const set = Object.entries(env).filter(([, value]) => value !== null && value !== undefined);
  return { ...(defaults as Vars), ...Object.fromEntries(set) };
}

// Parsed once per env object (one per isolate in workerd): a profile of the
// seed load had the parse, run on every request, among the hottest functions.
const parsed = new WeakMap<object, Config>();

/** Reads the config; throws a clear error on a malformed value. */
export function readConfig(env: object): Config {
  let config = parsed.get(env);
  if (!config) {
    config = parseConfig(env);
    parsed.set(env, config);
  }
  return config;
}

function parseConfig(env: object): Config {
  const vars = withDefaults(env as Vars);
  const hyperdrive = vars.HYPERDRIVE as { connectionString?: unknown } | undefined;
  const hyperdriveUrl = typeof hyperdrive?.connectionString === "string" ? hyperdrive.connectionString : undefined;
  return {
    environment: text(vars, "ENVIRONMENT") ?? "production",
    jwtIssuer: text(vars, "JWT_ISSUER") ?? "roomcast",
    jwtAudience: text(vars, "JWT_AUDIENCE") ?? "roomcast",
    tokenTtlSeconds: integer(vars, "TOKEN_TTL_SECONDS", 3600),
    allowedOrigins: (text(vars, "ALLOWED_ORIGINS") ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter((o) => o !== ""),
    maxBodyChars: integer(vars, "MAX_BODY_CHARS", DEFAULT_LIMITS.maxBodyChars),
    maxFrameBytes: integer(vars, "MAX_FRAME_BYTES", DEFAULT_LIMITS.maxFrameBytes),
    rateLimitPerSecond: integer(vars, "RATE_LIMIT_PER_SECOND", 10),
    rateLimitBurst: integer(vars, "RATE_LIMIT_BURST", 20),
    outboxBatchSize: integer(vars, "OUTBOX_BATCH_SIZE", 500),
    outboxMaxPending: integer(vars, "OUTBOX_MAX_PENDING", 100_000),
    logRetention: retention(vars),
    dedupeWindowMs: duration(vars, "DEDUPE_WINDOW", "7d"),
    authGraceMs: duration(vars, "AUTH_GRACE", "60s"),
    sendBufferMaxBytes: integer(vars, "SEND_BUFFER_MAX_BYTES", 1_048_576),
    slowConsumerLag: integer(vars, "SLOW_CONSUMER_LAG", 2000),
    maxConnections: integer(vars, "MAX_CONNECTIONS", 0, 0),
    reconnectSpreadMs: duration(vars, "RECONNECT_SPREAD", "10s"),
    databaseTimeoutMs: duration(vars, "DATABASE_TIMEOUT", "10s"),
    databaseMaxConnections: integer(vars, "DATABASE_MAX_CONNECTIONS", 16),
    databaseShards: integer(vars, "DATABASE_SHARDS", 1),
    logLevel: logLevel(vars),
    nodeId: text(vars, "NODE_ID"),
    leaseTtlMs: duration(vars, "LEASE_TTL", "15s"),
    drainToken: text(vars, "DRAIN_TOKEN"),
    metricsToken: text(vars, "METRICS_TOKEN"),
    sentryDsn: text(vars, "SENTRY_DSN"),
    release: `roomcast@${pkg.version}`,
    // DATABASE_URL wins so that local runs and self-hosting need no Hyperdrive.
    databaseUrl: text(vars, "DATABASE_URL") ?? hyperdriveUrl,
    workerDatabase: text(vars, "DATABASE_URL") === undefined && hyperdriveUrl !== undefined ? "hyperdrive" : "service",
  };
}

function logLevel(vars: Vars): "info" | "debug" {
  const value = text(vars, "LOG_LEVEL") ?? "info";
  if (value !== "info" && value !== "debug") throw new Error(`config: LOG_LEVEL must be info or debug, got "${value}"`);
  return value;
}
