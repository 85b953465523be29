import { describe, expect, it } from "vitest";
import { parseDuration, readConfig } from "./config.ts";

describe("readConfig", () => {
  it("falls back to the documented defaults", () => {
    const config = readConfig({});
    expect(config).toMatchObject({
      environment: "production",
      maxBodyChars: 4000,
      logRetention: { count: 10_000, ageMs: 7 * 86_400_000 },
      dedupeWindowMs: 7 * 86_400_000,
      authGraceMs: 60_000,
      maxConnections: 0,
      databaseMaxConnections: 16,
      drainToken: undefined,
    });
  });

  it.each([
    [{ MAX_BODY_CHARS: "abc" }, /MAX_BODY_CHARS must be an integer of at least 1, got "abc"/],
    [{ MAX_BODY_CHARS: "0" }, /MAX_BODY_CHARS/],
    [{ MAX_CONNECTIONS: "-1" }, /MAX_CONNECTIONS must be an integer of at least 0/],
    [{ AUTH_GRACE: "60" }, /AUTH_GRACE must be a duration/],
    [{ ROOM_LOG_RETENTION: "10000" }, /ROOM_LOG_RETENTION must look like 10000,7d/],
    [{ ROOM_LOG_RETENTION: "0,7d" }, /ROOM_LOG_RETENTION/],
    [{ LEASE_TTL: "15" }, /LEASE_TTL must be a duration/],
    [{ DATABASE_SHARDS: "0" }, /DATABASE_SHARDS must be an integer of at least 1, got "0"/],
    [{ LOG_LEVEL: "verbose" }, /LOG_LEVEL must be info or debug, got "verbose"/],
  ])("refuses %j with an error naming the setting", (vars, message) => {
    expect(() => readConfig(vars)).toThrow(message);
  });

  it("takes the self-hosted build's defaults (ROOMCAST_DEFAULTS) where the environment is unset (null), and the environment where set", () => {
    const config = readConfig({
      ROOMCAST_DEFAULTS: { RATE_LIMIT_PER_SECOND: "7", RATE_LIMIT_BURST: "9", ENVIRONMENT: "production" },
      RATE_LIMIT_PER_SECOND: null,
      RATE_LIMIT_BURST: "11",
      NODE_ID: "host-1",
      LEASE_TTL: "6s",
    });
    expect(config).toMatchObject({
      rateLimitPerSecond: 7,
      rateLimitBurst: 11,
      environment: "production",
      nodeId: "host-1",
      leaseTtlMs: 6000,
    });
    // A malformed default is refused like a malformed setting.
    expect(() => readConfig({ ROOMCAST_DEFAULTS: { MAX_BODY_CHARS: "abc" } })).toThrow(/MAX_BODY_CHARS/);
  });

  it("accepts 0 for MAX_CONNECTIONS (no limit) and reads retention", () => {
    expect(readConfig({ MAX_CONNECTIONS: "0", ROOM_LOG_RETENTION: "20,15m" })).toMatchObject({
      maxConnections: 0,
      logRetention: { count: 20, ageMs: 900_000 },
    });
  });

  it("sends the Worker's queries through the database service unless only a Hyperdrive binding gives the URL", () => {
    const hyperdrive = { connectionString: "postgres://hyperdrive/db" };
    expect(readConfig({ HYPERDRIVE: hyperdrive })).toMatchObject({ databaseUrl: hyperdrive.connectionString, workerDatabase: "hyperdrive" });
    expect(readConfig({ HYPERDRIVE: hyperdrive, DATABASE_URL: "postgres://local/db" })).toMatchObject({
      databaseUrl: "postgres://local/db",
      workerDatabase: "service",
    });
    expect(readConfig({ DATABASE_URL: "postgres://local/db" })).toMatchObject({ workerDatabase: "service" });
    expect(readConfig({})).toMatchObject({ databaseUrl: undefined, workerDatabase: "service" });
    expect(readConfig({ LOG_LEVEL: "debug" }).logLevel).toBe("debug");
    expect(readConfig({ DATABASE_SHARDS: "8" }).databaseShards).toBe(8);
  });
});

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["7", undefined],
    ["1.5h", undefined],
    ["-5s", undefined],
    ["5w", undefined],
  ])("%s -> %s", (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });
});
