// Setup over HTTP, before any socket: log the users in (registering the ones
// that do not exist yet) and create the run's rooms. Every request is timed
// for the report's HTTP line. A request that fails after its retries fails
// the setup, and the runner exits non-zero.
import { backoffMs, type LoginResponse } from "../protocol/index.ts";
import { Histogram } from "./histogram.ts";

/** Setup failed: the runner reports it and exits 1. */
export class SetupError extends Error {}

/** HTTP requests the run made. */
export interface HttpStats {
  requests: number;
  /** Answers that failed the request (network errors and unexpected statuses). */
  failures: number;
  statuses: Record<string, number>;
  latency: Histogram;
}

export function newHttpStats(): HttpStats {
  return { requests: 0, failures: 0, statuses: {}, latency: new Histogram() };
}

const RETRIES = 4;
/** Waits before the retries: 500 ms doubling to 4 s, not jittered. */
const RETRY_BACKOFF = { baseMs: 500, maxMs: 4000, jitter: "none" } as const;

/** One JSON request, timed and retried on network errors, 5xx and 429. */
async function request(
  stats: HttpStats,
  url: string,
  init: { json?: unknown; token?: string; method?: string },
  expected: number[],
): Promise<{ status: number; body: unknown }> {
  let lastError = "";
  for (let attempt = 0; attempt <= RETRIES; attempt += 1) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt - 1, RETRY_BACKOFF)));
    const headers: Record<string, string> = {};
    if (init.json !== undefined) headers["Content-Type"] = "application/json";
    if (init.token) headers.Authorization = `Bearer ${init.token}`;
    const started = performance.now();
    stats.requests += 1;
    try {
      const response = await fetch(url, {
        method: init.method ?? (init.json === undefined ? "GET" : "POST"),
        headers,
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      stats.latency.recordMs(performance.now() - started);
      stats.statuses[response.status] = (stats.statuses[response.status] ?? 0) + 1;
      if (expected.includes(response.status)) return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
      stats.failures += 1;
      lastError = `${response.status} ${text.slice(0, 200)}`;
      if (response.status < 500 && response.status !== 429) break;
    } catch (error) {
      stats.latency.recordMs(performance.now() - started);
      stats.failures += 1;
      stats.statuses.network = (stats.statuses.network ?? 0) + 1;
      lastError = error instanceof Error ? error.message : String(error);
    }
  }
  throw new SetupError(`${init.method ?? "POST"} ${url}: ${lastError}`);
}

function isLogin(body: unknown): body is LoginResponse {
  return typeof body === "object" && body !== null && "token" in body && typeof body.token === "string";
}

/** Runs `task` for 0..count-1 with at most `limit` at once. */
async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, run));
}

/** How setup reaches the server. */
export interface SetupOptions {
  /** Base URLs; logins go round-robin, rooms go to the target their id hashes to. */
  bases: string[];
  userPrefix: string;
  password: string;
  concurrency: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** Username of virtual user `i`: the same across runs, so later runs only log in. */
export function username(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, "0")}`;
}

/**
 * Logs `count` users in. If the last user of the range cannot log in, users
 * are registered first (409 for those that exist); otherwise they only log in,
 * registering any that answer 401. Each PBKDF2 check costs the server ~14 ms.
 */
export async function loginUsers(count: number, options: SetupOptions, stats: HttpStats): Promise<string[]> {
  const tokens: string[] = new Array<string>(count);
  const base = (i: number) => options.bases[i % options.bases.length] ?? "";
  const login = async (i: number, expected: number[]) =>
    request(stats, `${base(i)}/auth/login`, { json: { username: username(options.userPrefix, i), password: options.password } }, expected);
  const register = async (i: number) =>
    request(
      stats,
      `${base(i)}/auth/register`,
      { json: { username: username(options.userPrefix, i), password: options.password } },
      [201, 409],
    );
  const probe = await login(count - 1, [200, 401]);
  const registerFirst = probe.status === 401;
  let done = 0;
  await pool(count, options.concurrency, async (i) => {
    let answer = registerFirst ? null : await login(i, [200, 401]);
    if (!answer || answer.status === 401) {
      await register(i);
      answer = await login(i, [200]);
    }
    if (!isLogin(answer.body)) throw new SetupError(`login of ${username(options.userPrefix, i)}: no token in the answer`);
    tokens[i] = answer.body.token;
    done += 1;
    if (done % 100 === 0 || done === count) options.onProgress?.(done, count, registerFirst ? "registered and logged in" : "logged in");
  });
  return tokens;
}

/** Creates each room on its target with the token of its first user; a private room also gets its other users as members. */
export async function createRooms(
  rooms: { id: string; base: string; token: string; type: "public" | "private"; members: string[] }[],
  options: SetupOptions,
  stats: HttpStats,
): Promise<void> {
  let done = 0;
  await pool(rooms.length, options.concurrency, async (r) => {
    const room = rooms[r];
    if (!room) return;
    await request(stats, `${room.base}/rooms`, { json: { id: room.id, type: room.type }, token: room.token }, [201]);
    if (room.type === "private") {
      for (const member of room.members) {
        await request(stats, `${room.base}/rooms/${room.id}/members`, { json: { username: member }, token: room.token }, [204]);
      }
    }
    done += 1;
    if (done % 100 === 0 || done === rooms.length) options.onProgress?.(done, rooms.length, "rooms created");
  });
}
