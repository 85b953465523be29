import { describe, expect, it } from "vitest";
import { parseDuration, readConfig, SETTINGS } from "./config.ts";

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
    // One of each kind of schema error, with the value as given (trimmed).
    [{ TOKEN_TTL_SECONDS: " 1.5 " }, /^config: TOKEN_TTL_SECONDS must be an integer of at least 1, got "1.5"$/],
    [{ RATE_LIMIT_BURST: "ten" }, /^config: RATE_LIMIT_BURST must be an integer of at least 1, got "ten"$/],
    [{ MAX_CONNECTIONS: "0.5" }, /^config: MAX_CONNECTIONS must be an integer of at least 0, got "0.5"$/],
    [{ DEDUPE_WINDOW: "5w" }, /^config: DEDUPE_WINDOW must be a duration like 250ms, 30s, 15m, 24h or 7d, got "5w"$/],
    [{ DATABASE_TIMEOUT: "-5s" }, /^config: DATABASE_TIMEOUT must be a duration like 250ms, 30s, 15m, 24h or 7d, got "-5s"$/],
    [{ ROOM_LOG_RETENTION: "10000,7x" }, /^config: ROOM_LOG_RETENTION must look like 10000,7d, got "10000,7x"$/],
    [{ ROOM_LOG_RETENTION: "1.5,7d" }, /^config: ROOM_LOG_RETENTION must look like 10000,7d, got "1.5,7d"$/],
    [{ LOG_LEVEL: "DEBUG" }, /^config: LOG_LEVEL must be info or debug, got "DEBUG"$/],
  ])("refuses %j with an error naming the setting", (vars, message) => {
    expect(() => readConfig(vars)).toThrow(message);
  });

  it("names every malformed setting in one error, in the table's order", () => {
    expect(() => readConfig({ LOG_LEVEL: "loud", MAX_BODY_CHARS: "0", AUTH_GRACE: "1" })).toThrow(
      'config: MAX_BODY_CHARS must be an integer of at least 1, got "0"; ' +
        'config: AUTH_GRACE must be a duration like 250ms, 30s, 15m, 24h or 7d, got "1"; ' +
        'config: LOG_LEVEL must be info or debug, got "loud"',
    );
  });

  it("trims values, takes the default for blank, null or non-text values, and ignores names it does not know", () => {
    expect(
      readConfig({ MAX_BODY_CHARS: "  12 ", NODE_ID: " host-2 ", ALLOWED_ORIGINS: " https://a.example , ,https://b.example " }),
    ).toMatchObject({
      maxBodyChars: 12,
      nodeId: "host-2",
      allowedOrigins: ["https://a.example", "https://b.example"],
    });
    const defaults = readConfig({});
    expect(readConfig({ MAX_BODY_CHARS: "   ", RATE_LIMIT_BURST: null, OUTBOX_BATCH_SIZE: 7, NODE_ID: "", LOG_LEVEL: {} })).toEqual(
      defaults,
    );
    expect(readConfig({ UNKNOWN_SETTING: "abc", ROOMS: { binding: true }, max_body_chars: "abc" })).toEqual(defaults);
  });

  it("parses once per env object (one per isolate) and again for another object", () => {
    const env = { RATE_LIMIT_BURST: "30" };
    const first = readConfig(env);
    expect(readConfig(env)).toBe(first);
    env.RATE_LIMIT_BURST = "40";
    expect(readConfig(env).rateLimitBurst).toBe(30);
    expect(readConfig({ ...env }).rateLimitBurst).toBe(40);
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
    expect(readConfig({ HYPERDRIVE: hyperdrive })).toMatchObject({
      databaseUrl: hyperdrive.connectionString,
      workerDatabase: "hyperdrive",
    });
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

describe("SETTINGS (derived from the schema)", () => {
  it("lists each setting once, the secrets included, and no binding", () => {
    expect(new Set(SETTINGS).size).toBe(SETTINGS.length);
    expect(SETTINGS).toEqual(
      expect.arrayContaining(["ENVIRONMENT", "JWT_SECRET", "ROOM_LOG_RETENTION", "DRAIN_TOKEN", "DATABASE_URL", "LEASE_TTL"]),
    );
    expect(SETTINGS).not.toContain("HYPERDRIVE");
    expect(SETTINGS).not.toContain("ROOMCAST_DEFAULTS");
    expect(SETTINGS.every((name) => /^[A-Z][A-Z0-9_]*$/.test(name))).toBe(true);
  });

  // JWT_SECRET is read by core/tokens.ts (signingKey), so it changes no field here.
  it.each(SETTINGS.filter((name) => name !== "JWT_SECRET"))("%s is read: an odd value changes the config or is refused by name", (name) => {
    const odd = { [name]: "odd-value" };
    let changed: boolean;
    try {
      changed = JSON.stringify(readConfig(odd)) !== JSON.stringify(readConfig({}));
    } catch (error) {
      expect(String(error)).toContain(`config: ${name} must`);
      changed = true;
    }
    expect(changed).toBe(true);
  });
});

describe("parseDuration", () => {
  it.each([
    ["30s", 30_000],
    ["15m", 900_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
    ["7", undefined],
    ["1.5h", 5_400_000],
    ["250ms", 250],
    ["0.5s", 500],
    ["1.5", undefined],
    [".5s", undefined],
    ["-5s", undefined],
    ["5w", undefined],
  ])("%s -> %s", (raw, ms) => {
    expect(parseDuration(raw)).toBe(ms);
  });
});

describe("the cap on sockets per user", () => {
  it("defaults to 20, 0 turns it off, and a negative value is refused", () => {
    expect(readConfig({}).maxSocketsPerUser).toBe(20);
    expect(readConfig({ MAX_SOCKETS_PER_USER: "0" }).maxSocketsPerUser).toBe(0);
    expect(() => readConfig({ MAX_SOCKETS_PER_USER: "-1" })).toThrow(/MAX_SOCKETS_PER_USER must be an integer of at least 0/);
  });
});

describe("the upgrade limits", () => {
  it("default to 60 upgrades a minute per user and 300 per address, take N/duration and off, and refuse anything else", () => {
    expect(readConfig({})).toMatchObject({
      upgradeUserLimit: { limit: 60, windowMs: 60_000 },
      upgradeAddressLimit: { limit: 300, windowMs: 60_000 },
    });
    expect(readConfig({ UPGRADE_USER_LIMIT: "off", UPGRADE_ADDRESS_LIMIT: "10/10s" })).toMatchObject({
      upgradeUserLimit: null,
      upgradeAddressLimit: { limit: 10, windowMs: 10_000 },
    });
    expect(() => readConfig({ UPGRADE_ADDRESS_LIMIT: "300" })).toThrow(/^config: UPGRADE_ADDRESS_LIMIT must look like 20\/1m/);
    expect(() => readConfig({ UPGRADE_USER_LIMIT: "0/1m" })).toThrow(/UPGRADE_USER_LIMIT must look like 20\/1m/);
  });
});

describe("the client address and the login limits", () => {
  it("default to no address header, 20 attempts a minute per address and 10 logins a minute per username", () => {
    expect(readConfig({})).toMatchObject({
      clientAddressHeader: null,
      authAddressLimit: { limit: 20, windowMs: 60_000 },
      loginAccountLimit: { limit: 10, windowMs: 60_000 },
    });
    expect(readConfig({ CLIENT_ADDRESS_HEADER: " X-Real-IP ", AUTH_ADDRESS_LIMIT: "off", LOGIN_ACCOUNT_LIMIT: "5/1.5s" })).toMatchObject({
      clientAddressHeader: "X-Real-IP",
      authAddressLimit: null,
      loginAccountLimit: { limit: 5, windowMs: 1500 },
    });
  });

  it.each([
    [
      { CLIENT_ADDRESS_HEADER: "X Real IP" },
      /^config: CLIENT_ADDRESS_HEADER must be an HTTP header name such as X-Real-IP, got "X Real IP"$/,
    ],
    [{ AUTH_ADDRESS_LIMIT: "20" }, /^config: AUTH_ADDRESS_LIMIT must look like 20\/1m \(attempts per duration\) or be off, got "20"$/],
    [{ AUTH_ADDRESS_LIMIT: "0/1m" }, /AUTH_ADDRESS_LIMIT must look like 20\/1m/],
    [{ LOGIN_ACCOUNT_LIMIT: "10/0s" }, /LOGIN_ACCOUNT_LIMIT must look like 20\/1m/],
    [{ LOGIN_ACCOUNT_LIMIT: "1.5/1m" }, /LOGIN_ACCOUNT_LIMIT must look like 20\/1m/],
    [{ LOGIN_ACCOUNT_LIMIT: "10/1m/1h" }, /LOGIN_ACCOUNT_LIMIT must look like 20\/1m/],
    [{ LOGIN_ACCOUNT_LIMIT: "OFF" }, /LOGIN_ACCOUNT_LIMIT must look like 20\/1m/],
  ])("refuses %j", (vars, message) => {
    expect(() => readConfig(vars)).toThrow(message);
  });
});
