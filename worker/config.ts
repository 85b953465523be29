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
  databaseUrl: string | undefined;
}

type Vars = Partial<Record<string, unknown>>;

function text(vars: Vars, key: string): string | undefined {
  const value = vars[key];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

function positiveInt(vars: Vars, key: string, fallback: number): number {
  const raw = text(vars, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`config: ${key} must be a positive integer, got "${raw}"`);
  }
  return value;
}

/** Reads the config; throws a clear error on a malformed value. */
export function readConfig(env: object): Config {
  const vars = env as Vars;
  const hyperdrive = vars.HYPERDRIVE as { connectionString?: unknown } | undefined;
  return {
    environment: text(vars, "ENVIRONMENT") ?? "production",
    jwtIssuer: text(vars, "JWT_ISSUER") ?? "roomcast",
    jwtAudience: text(vars, "JWT_AUDIENCE") ?? "roomcast",
    tokenTtlSeconds: positiveInt(vars, "TOKEN_TTL_SECONDS", 3600),
    allowedOrigins: (text(vars, "ALLOWED_ORIGINS") ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter((o) => o !== ""),
    maxBodyChars: positiveInt(vars, "MAX_BODY_CHARS", DEFAULT_LIMITS.maxBodyChars),
    maxFrameBytes: positiveInt(vars, "MAX_FRAME_BYTES", DEFAULT_LIMITS.maxFrameBytes),
    rateLimitPerSecond: positiveInt(vars, "RATE_LIMIT_PER_SECOND", 10),
    rateLimitBurst: positiveInt(vars, "RATE_LIMIT_BURST", 20),
    outboxBatchSize: positiveInt(vars, "OUTBOX_BATCH_SIZE", 500),
    // DATABASE_URL wins so that local runs and self-hosting need no Hyperdrive.
    databaseUrl:
      text(vars, "DATABASE_URL") ??
      (typeof hyperdrive?.connectionString === "string" ? hyperdrive.connectionString : undefined),
  };
}
