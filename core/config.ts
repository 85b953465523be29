import * as z from "zod";
import pkg from "../package.json" with { type: "json" };
import { DEFAULT_LIMITS } from "../protocol/index.ts";

// Every setting is defined once, in the schema below: its name, its default
// (written as the setting itself would be, for example "7d"), how it is parsed
// and what makes it malformed. The list of settings (SETTINGS) and the Config
// type are derived from it: `npm start` forwards SETTINGS to the runtime, and
// test/architecture/config-table.test.ts checks the table of docs/configuration.md and
// wrangler.toml's [vars] against it.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The one duration parser (settings, the load test's scenarios): `250ms`,
 * `30s`, `1.5s`, `15m`, `24h` or `7d`, in whole milliseconds; undefined for
 * anything else.
 */
export function parseDuration(raw: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim());
  return match?.[1] && match[2] ? Math.round(Number(match[1]) * (UNIT_MS[match[2]] ?? 0)) : undefined;
}

/** A setting's text, trimmed; absent, null (workerd's unset variable), blank or not a string is unset. */
const text = z
  .unknown()
  .optional()
  .transform((value) => (typeof value === "string" && value.trim() !== "" ? value.trim() : undefined));

/** A text setting with a default. */
const textOr = (fallback: string) => text.transform((value) => value ?? fallback);

/**
 * A setting that `parse` turns into a value, or refuses with undefined. `rule`
 * completes the error "config: NAME must …, got "<value>"". An unset setting
 * takes `fallback`, parsed the same way.
 */
function parsed<T>(fallback: string, rule: string, parse: (raw: string) => T | undefined) {
  return text.transform((value, ctx) => {
    const raw = value ?? fallback;
    const result = parse(raw);
    if (result === undefined) {
      ctx.issues.push({ code: "custom", input: raw, message: `must ${rule}, got "${raw}"` });
      return z.NEVER;
    }
    return result;
  });
}

/** An integer of at least `min` (1 for counts and sizes, 0 where 0 means "no limit"). */
const integer = (fallback: number, min = 1) =>
  parsed(String(fallback), `be an integer of at least ${min}`, (raw) => {
    const value = Number(raw);
    return Number.isInteger(value) && value >= min ? value : undefined;
  });

const duration = (fallback: string) => parsed(fallback, "be a duration like 250ms, 30s, 15m, 24h or 7d", parseDuration);

/** A limit of `limit` attempts per `windowMs`, refilled evenly (a token bucket). */
export interface Rate {
  limit: number;
  windowMs: number;
}

/** `N/duration` (`20/1m`: 20 attempts a minute, N at least 1), or `off` (null); undefined for anything else. */
export function parseRate(raw: string): Rate | null | undefined {
  if (raw === "off") return null;
  const [limitText = "", windowText = "", ...rest] = raw.split("/");
  if (rest.length > 0) return undefined;
  const limit = Number(limitText.trim());
  const windowMs = parseDuration(windowText);
  return Number.isInteger(limit) && limit >= 1 && windowMs !== undefined && windowMs > 0 ? { limit, windowMs } : undefined;
}

const rate = (fallback: string) => parsed(fallback, "look like 20/1m (attempts per duration) or be off", parseRate);

/** An HTTP header name (RFC 9110 token); unset or blank is null. */
const headerName = parsed("", "be an HTTP header name such as X-Real-IP", (raw): string | null | undefined =>
  raw === "" ? null : /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(raw) ? raw : undefined,
);

/** Comma-separated, blanks dropped; unset is the empty list. */
const list = text.transform((value) =>
  (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== ""),
);

/** The settings, in the order of the table of docs/configuration.md. */
const settings = z.object({
  ENVIRONMENT: textOr("production"),
  // Read by core/tokens.ts (signingKey), not here: a missing or short secret
  // fails only what signs or verifies tokens, not every request.
  JWT_SECRET: text,
  JWT_ISSUER: textOr("roomcast"),
  JWT_AUDIENCE: textOr("roomcast"),
  TOKEN_TTL_SECONDS: integer(3600),
  ALLOWED_ORIGINS: list,
  MAX_BODY_CHARS: integer(DEFAULT_LIMITS.maxBodyChars),
  MAX_FRAME_BYTES: integer(DEFAULT_LIMITS.maxFrameBytes),
  RATE_LIMIT_PER_SECOND: integer(10),
  RATE_LIMIT_BURST: integer(20),
  CLIENT_ADDRESS_HEADER: headerName,
  AUTH_ADDRESS_LIMIT: rate("20/1m"),
  LOGIN_ACCOUNT_LIMIT: rate("10/1m"),
  OUTBOX_BATCH_SIZE: integer(500),
  OUTBOX_MAX_PENDING: integer(100_000),
  /** `<count>,<age>`. */
  ROOM_LOG_RETENTION: parsed("10000,7d", "look like 10000,7d", (raw) => {
    const [countText = "", ageText = ""] = raw.split(",");
    const count = Number(countText.trim());
    const ageMs = parseDuration(ageText);
    return Number.isInteger(count) && count >= 1 && ageMs !== undefined ? { count, ageMs } : undefined;
  }),
  DEDUPE_WINDOW: duration("7d"),
  AUTH_GRACE: duration("60s"),
  SEND_BUFFER_MAX_BYTES: integer(1_048_576),
  SLOW_CONSUMER_LAG: integer(2000),
  MAX_CONNECTIONS: integer(0, 0),
  MAX_SOCKETS_PER_USER: integer(20, 0),
  UPGRADE_USER_LIMIT: rate("60/1m"),
  UPGRADE_ADDRESS_LIMIT: rate("300/1m"),
  RECONNECT_SPREAD: duration("10s"),
  DATABASE_TIMEOUT: duration("10s"),
  DATABASE_MAX_CONNECTIONS: integer(16),
  DATABASE_SHARDS: integer(1),
  LOG_LEVEL: parsed("info", "be info or debug", (raw) => (raw === "info" || raw === "debug" ? raw : undefined)),
  NODE_ID: text,
  LEASE_TTL: duration("15s"),
  SENTRY_DSN: text,
  METRICS_TOKEN: text,
  DRAIN_TOKEN: text,
  DATABASE_URL: text,
});

export type SettingName = keyof typeof settings.shape;

/** Every setting's name, in the order of the table of docs/configuration.md. */
export const SETTINGS = Object.keys(settings.shape) as readonly SettingName[];

/** Bindings read beside the settings: not text, so not settings (npm start does not forward them). */
const bindings = {
  /** Hyperdrive: its `connectionString` is the database when DATABASE_URL is unset. */
  HYPERDRIVE: z
    .unknown()
    .optional()
    .transform((binding) => {
      const url = (binding as { connectionString?: unknown } | null | undefined)?.connectionString;
      return typeof url === "string" ? url : undefined;
    }),
};

/** The bindings' names (the table of docs/configuration.md marks them "(binding)"). */
export const BINDINGS = Object.keys(bindings) as readonly (keyof typeof bindings)[];

const schema = z.object({ ...settings.shape, ...bindings }).transform((s) => ({
  environment: s.ENVIRONMENT,
  jwtIssuer: s.JWT_ISSUER,
  jwtAudience: s.JWT_AUDIENCE,
  tokenTtlSeconds: s.TOKEN_TTL_SECONDS,
  allowedOrigins: s.ALLOWED_ORIGINS as readonly string[],
  maxBodyChars: s.MAX_BODY_CHARS,
  maxFrameBytes: s.MAX_FRAME_BYTES,
  rateLimitPerSecond: s.RATE_LIMIT_PER_SECOND,
  rateLimitBurst: s.RATE_LIMIT_BURST,
  /**
   * The request header that carries the client's address, set by a proxy in
   * front (nginx's X-Real-IP); null: CF-Connecting-IP on Cloudflare, else
   * unknown (worker/client-address.ts).
   */
  clientAddressHeader: s.CLIENT_ADDRESS_HEADER,
  /** Logins and registrations per client address; null is no limit. */
  authAddressLimit: s.AUTH_ADDRESS_LIMIT,
  /** Logins per username, whether the account exists or not; null is no limit. */
  loginAccountLimit: s.LOGIN_ACCOUNT_LIMIT,
  outboxBatchSize: s.OUTBOX_BATCH_SIZE,
  /** Messages the outbox may hold before sends are refused with `overloaded`. */
  outboxMaxPending: s.OUTBOX_MAX_PENDING,
  /** Copied messages the room log keeps: at most the newest `count`, none older than `ageMs`. */
  logRetention: s.ROOM_LOG_RETENTION,
  /** How long a clientMsgId is remembered for dedupe. */
  dedupeWindowMs: s.DEDUPE_WINDOW,
  /** How long a socket may outlive its token's `exp` before it is closed 4401. */
  authGraceMs: s.AUTH_GRACE,
  /** Bytes queued to one socket before it is closed 4001 as a slow consumer. */
  sendBufferMaxBytes: s.SEND_BUFFER_MAX_BYTES,
  /** Messages a socket may be behind (by its receipts, or held during a resume) before it is closed 4001. */
  slowConsumerLag: s.SLOW_CONSUMER_LAG,
  /** Open sockets allowed in this runtime process; 0 means no limit. */
  maxConnections: s.MAX_CONNECTIONS,
  /** Open room sockets one user may hold in this runtime process (isolate); 0 means no limit. */
  maxSocketsPerUser: s.MAX_SOCKETS_PER_USER,
  /** WebSocket upgrades per user, per isolate (worker/rooms/upgrade-limits.ts); null is no limit. */
  upgradeUserLimit: s.UPGRADE_USER_LIMIT,
  /** WebSocket upgrades per client address, per isolate; null is no limit. */
  upgradeAddressLimit: s.UPGRADE_ADDRESS_LIMIT,
  /** Upper bound of the jittered `retryAfterMs` in `goaway` frames. */
  reconnectSpreadMs: s.RECONNECT_SPREAD,
  /** Time limit of one PostgreSQL call made by a room, and of waiting for a connection slot. */
  databaseTimeoutMs: s.DATABASE_TIMEOUT,
  /**
   * PostgreSQL connections the process's database service holds
   * (durable-objects/database/pool.ts); with Hyperdrive, also the cap on the
   * Worker's per-request connections per isolate (sql/slots.ts).
   */
  databaseMaxConnections: s.DATABASE_MAX_CONNECTIONS,
  /** Database service objects the rooms are spread over (durable-objects/database/shard.ts). */
  databaseShards: s.DATABASE_SHARDS,
  /** `debug` adds a line per request and per socket open and close; `info` logs errors, slow requests and events. */
  logLevel: s.LOG_LEVEL,
  /** This process's name among several behind nginx; set, rooms run in multi-process mode (leases, ack after commit). */
  nodeId: s.NODE_ID,
  /** How long a room's lease outlives its owner's last renewal (multi-process mode). */
  leaseTtlMs: s.LEASE_TTL,
  /** Shared secret of `POST /internal/drain`; unset disables the route. */
  drainToken: s.DRAIN_TOKEN,
  /** Bearer secret of `GET /metrics`; unset disables the route (the self-hosted metrics socket needs none). */
  metricsToken: s.METRICS_TOKEN,
  /** Sentry DSN for unexpected errors; unset reports nothing. */
  sentryDsn: s.SENTRY_DSN,
  /** Release name reported with errors. */
  release: `roomcast@${pkg.version}`,
  // DATABASE_URL wins so that local runs and self-hosting need no Hyperdrive.
  databaseUrl: s.DATABASE_URL ?? s.HYPERDRIVE,
  /**
   * How the Worker's requests reach PostgreSQL: "hyperdrive" (the URL came
   * from the HYPERDRIVE binding: a connection per request, which Hyperdrive
   * pools) or "service" (DATABASE_URL: the process's database service).
   */
  workerDatabase: (s.DATABASE_URL === undefined && s.HYPERDRIVE !== undefined ? "hyperdrive" : "service") as "service" | "hyperdrive",
}));

/** The settings as the code reads them, with the defaults of the table of docs/configuration.md. */
export type Config = z.output<typeof schema>;

type Vars = Partial<Record<string, unknown>>;

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
const parsedConfigs = new WeakMap<object, Config>();

/** Reads the config; throws an error naming each malformed setting. */
export function readConfig(env: object): Config {
  let config = parsedConfigs.get(env);
  if (!config) {
    config = parseConfig(env);
    parsedConfigs.set(env, config);
  }
  return config;
}

function parseConfig(env: object): Config {
  const result = schema.safeParse(withDefaults(env as Vars));
  if (result.success) return result.data;
  throw new Error(result.error.issues.map((issue) => `config: ${issue.path.join(".")} ${issue.message}`).join("; "));
}
