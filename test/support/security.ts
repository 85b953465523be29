// The security suite's harness (test/security/): one self-hosted server per
// file on the shared test database, with every place a secret could leak to
// captured so that the file can search them at its end:
// - the server's stdout and stderr (the supervisor, workerd, every log line);
// - the metrics socket, scraped (names, labels and values);
// - Sentry events, sent to a capture server of the file's own (as
//   test/e2e/sentry.test.ts does), which also records every other request
//   the server makes to it (a `jku` or `x5u` it must never fetch);
// - every HTTP error body, WebSocket error frame and close reason the file
//   received.
// And a tally of cases per category, printed as one line per category.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { SignJWT, type JWTPayload } from "jose";
import { afterAll, expect, inject } from "vitest";
import { rawUpgrade, type RawSocket } from "./raw-ws.ts";
import { freePort, startServer, type RunningServer } from "./server.ts";

/** The JWT secret of every server the suite starts (at least 32 characters: the self-hosted build runs as production). */
export const SECURITY_JWT_SECRET = `security-suite-jwt-${randomBytes(12).toString("hex")}`;

/** An origin the suite's servers allow (ALLOWED_ORIGINS). */
export const GOOD_ORIGIN = "http://app.example";

/**
 * Settings that switch off the limits being added for issue 13, for files
 * that test something else and must not meet them by accident (the abuse
 * file sets its own). Unknown settings are ignored by the runtime.
 */
export const LIMITS_OFF: Record<string, string> = {
  AUTH_ADDRESS_LIMIT: "off",
  LOGIN_ACCOUNT_LIMIT: "off",
  UPGRADE_USER_LIMIT: "off",
  UPGRADE_ADDRESS_LIMIT: "off",
  MAX_SOCKETS_PER_USER: "0",
  RATE_LIMIT_PER_SECOND: "1000",
  RATE_LIMIT_BURST: "2000",
};

/** One HTTP answer, with its body as text and, when it is JSON, parsed. */
export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Options of {@link SecurityServer.request}. */
export interface RequestOptions {
  method?: string;
  token?: string;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string;
}

/** A capture server: Sentry envelopes, and the path of every request. */
class Capture {
  readonly envelopes: string[] = [];
  readonly requests: string[] = [];
  readonly #server: Server;
  port = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        this.requests.push(`${req.method} ${req.url}`);
        if (req.url?.startsWith("/api/")) this.envelopes.push(body);
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      });
    });
  }

  async listen(): Promise<void> {
    this.port = await freePort();
    await new Promise<void>((resolve) => this.#server.listen(this.port, "127.0.0.1", resolve));
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A user of the suite, with what it must never see leak. */
export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
}

/** A running server and its captured sinks. */
export class SecurityServer {
  readonly server: RunningServer;
  readonly capture: Capture;
  readonly databaseUrl: string;
  /** Secrets the file handled, by a label that names them in a failure (never the value). */
  readonly secrets = new Map<string, string>();
  /** Error bodies, error frames and close reasons received. */
  readonly received: string[] = [];
  readonly #sockets = new Set<RawSocket>();

  constructor(server: RunningServer, capture: Capture, databaseUrl: string) {
    this.server = server;
    this.capture = capture;
    this.databaseUrl = databaseUrl;
  }

  get base(): string {
    return this.server.base;
  }

  /** Remembers a secret (at least 12 characters, so that it cannot match by chance). */
  secret(label: string, value: string): string {
    if (value.length >= 12) this.secrets.set(label, value);
    return value;
  }

  /** An HTTP call; every error body is kept for the leak search. */
  async request(path: string, options: RequestOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(options.json);
    }
    const response = await fetch(this.base + path, {
      method: options.method ?? (body === undefined ? "GET" : "POST"),
      headers,
      body,
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (response.status >= 400) this.received.push(text);
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Opens a raw WebSocket; the socket's error frames and close reason join the leak search, and it is closed after the file. */
  async upgrade(path: string, headers: Record<string, string | null> = {}) {
    const result = await rawUpgrade(this.base, path, headers);
    if (result.ok) this.#sockets.add(result.socket);
    else if (result.answer.status >= 400) this.received.push(result.answer.body);
    return result;
  }

  /** Opens a socket that must be accepted, and waits for its welcome. */
  async open(roomId: string, token: string, query = ""): Promise<RawSocket> {
    const result = await this.upgrade(`/rooms/${roomId}/ws${query}`, { Authorization: `Bearer ${token}` });
    if (!result.ok) throw new Error(`upgrade refused: ${result.answer.status} ${result.answer.body}`);
    await result.socket.waitType("welcome");
    return result.socket;
  }

  /** Registers and logs in a new user with a password of its own. */
  async user(prefix: string): Promise<TestUser> {
    const username = `${prefix}-${randomBytes(5).toString("hex")}`.slice(0, 32);
    const password = this.secret(`password of ${prefix}`, `pw-${randomBytes(12).toString("hex")}`);
    const registered = await this.request("/auth/register", { json: { username, password } });
    if (registered.status !== 201) throw new Error(`register: ${registered.status} ${registered.text}`);
    const login = await this.request("/auth/login", { json: { username, password } });
    if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`);
    const body = login.json as { token: string; user: { id: string; username: string } };
    this.secret(`token of ${prefix}`, body.token);
    return { id: body.user.id, username, password, token: body.token };
  }

  /** Creates a room owned by `owner`. */
  async room(owner: TestUser, type: "public" | "private", prefix = "room"): Promise<string> {
    const id = `${prefix}-${randomBytes(5).toString("hex")}`;
    const created = await this.request("/rooms", { token: owner.token, json: { id, type } });
    if (created.status !== 201) throw new Error(`create room: ${created.status} ${created.text}`);
    return id;
  }

  /** The metrics socket's text. */
  async metrics(): Promise<string> {
    return (await fetch(this.server.metrics)).text();
  }

  /** Where each remembered secret appears, as "label in sink"; empty when nothing leaked. */
  async leaks(): Promise<string[]> {
    for (const socket of this.#sockets) {
      for (const text of socket.texts) if (text.includes('"error"')) this.received.push(text);
      if (socket.closeFrame) this.received.push(socket.closeFrame.reason);
    }
    const sinks: Record<string, string> = {
      logs: this.server.output(),
      metrics: await this.metrics(),
      sentry: this.capture.envelopes.join("\n"),
      "error answers": this.received.join("\n"),
    };
    const found: string[] = [];
    for (const [label, value] of this.secrets) {
      for (const [sink, text] of Object.entries(sinks)) if (text.includes(value)) found.push(`${label} in ${sink}`);
    }
    return found;
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await this.server.stop();
    await this.capture.close();
  }
}

/**
 * Starts the self-hosted build (plain `workerd serve`, as production runs it)
 * on the test database, with the suite's JWT secret, debug logs, Sentry
 * reporting to a capture server, and `env` on top.
 */
export async function startSecurityServer(env: Record<string, string> = {}): Promise<SecurityServer> {
  const capture = new Capture();
  await capture.listen();
  const databaseUrl = inject("databaseUrl");
  const settings: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    JWT_SECRET: SECURITY_JWT_SECRET,
    LOG_LEVEL: "debug",
    ALLOWED_ORIGINS: GOOD_ORIGIN,
    SENTRY_DSN: `http://publickey@127.0.0.1:${capture.port}/1`,
    DRAIN_TOKEN: `drain-${randomBytes(16).toString("hex")}`,
    METRICS_TOKEN: `metrics-${randomBytes(16).toString("hex")}`,
    ...env,
  };
  const server = await startServer(settings, "workerd");
  const secured = new SecurityServer(server, capture, databaseUrl);
  secured.secret("JWT_SECRET", settings.JWT_SECRET ?? "");
  secured.secret("DRAIN_TOKEN", settings.DRAIN_TOKEN ?? "");
  secured.secret("METRICS_TOKEN", settings.METRICS_TOKEN ?? "");
  secured.secret("DATABASE_URL", databaseUrl);
  const password = new URL(databaseUrl).password;
  if (password) secured.secret("the database password", password);
  return secured;
}

/** A token signed like the server's (HS256, the suite's secret), with claims and header changed as a case needs. */
export async function signToken(
  user: { id: string; username: string },
  options: { claims?: JWTPayload; header?: Record<string, unknown>; secret?: string; expiresIn?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ name: user.username, ...options.claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT", ...options.header })
    .setSubject(user.id)
    .setIssuer("roomcast")
    .setAudience("roomcast")
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresIn ?? 600))
    .sign(new TextEncoder().encode(options.secret ?? SECURITY_JWT_SECRET));
}

interface Count {
  tried: number;
  passed: number;
  knownBugs: number;
  failures: string[];
  /** Failures already reported by {@link Tally.expectClean}. */
  reported: number;
}

/**
 * Cases tried and passed per category. `check` runs one case and records a
 * failure instead of throwing, so that a test runs all its cases and then
 * fails with the whole list (`expectClean`); `afterAll` prints one line per
 * category: `security: tokens 412 tried, 412 passed`.
 */
export class Tally {
  readonly #counts = new Map<string, Count>();

  constructor() {
    afterAll(() => {
      for (const line of this.lines()) console.log(line);
    });
  }

  #count(category: string): Count {
    let count = this.#counts.get(category);
    if (!count) {
      count = { tried: 0, passed: 0, knownBugs: 0, failures: [], reported: 0 };
      this.#counts.set(category, count);
    }
    return count;
  }

  /** Runs one case; true when it passed. */
  async check(category: string, name: string, run: () => Promise<void> | void): Promise<boolean> {
    const count = this.#count(category);
    count.tried++;
    try {
      await run();
      count.passed++;
      return true;
    } catch (error) {
      count.failures.push(`${name}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
      return false;
    }
  }

  /** Counts a case that fails today because of a reported bug (its test is `it.fails`). */
  knownBug(category: string): void {
    const count = this.#count(category);
    count.tried++;
    count.knownBugs++;
  }

  /** Fails the running test with every case of `category` that failed since the last call. */
  expectClean(category: string): void {
    const count = this.#count(category);
    const fresh = count.failures.slice(count.reported);
    count.reported = count.failures.length;
    expect(fresh).toEqual([]);
  }

  lines(): string[] {
    return [...this.#counts].map(
      ([category, c]) =>
        `security: ${category} ${c.tried} tried, ${c.passed} passed` +
        (c.knownBugs ? `, ${c.knownBugs} known bug${c.knownBugs > 1 ? "s" : ""} (it.fails)` : "") +
        (c.failures.length ? `, ${c.failures.length} FAILED` : ""),
    );
  }
}

/** Asserts the contract's 401: status, `WWW-Authenticate: Bearer`, and a JSON error with one of `codes`. */
export function expect401(
  answer: { status: number; headers: Headers | Record<string, string>; json?: unknown; text?: string },
  codes: string[],
): void {
  const header = answer.headers instanceof Headers ? answer.headers.get("www-authenticate") : answer.headers["www-authenticate"];
  if (answer.status !== 401) throw new Error(`status ${answer.status}, not 401: ${answer.text ?? ""}`.slice(0, 300));
  if (!/^Bearer realm="roomcast"/.test(header ?? "")) throw new Error(`WWW-Authenticate is ${JSON.stringify(header)}`);
  const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
  if (!code || !codes.includes(code)) throw new Error(`error code ${String(code)}, not one of ${codes.join(", ")}`);
}

/** Parses a JSON text, or undefined. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
