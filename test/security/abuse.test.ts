// Abuse: what one user or one address can make the server do. Logins and
// registrations are throttled per client address and logins per username
// (429 with Retry-After, the same for unknown users, no lockout); one user's
// messages share one budget across sockets and REST publish; upgrades are
// limited per address and per user, and open sockets per user. Login
// timing does not tell existing users from unknown ones.
//
// The server runs behind no proxy here, so the client address comes from
// X-Real-IP as the shipped nginx site would set it (CLIENT_ADDRESS_HEADER);
// each case uses addresses of its own. Rates are short windows so that a
// case can wait out its Retry-After.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RawSocket } from "../support/raw-ws.ts";
import { sleep, startSecurityServer, Tally, type Answer, type SecurityServer, type TestUser } from "../support/security.ts";

const tally = new Tally();
let sec: SecurityServer;
let alice: TestUser;
let bob: TestUser;
let room: string;
let nextAddress = 1;
/** A client address no other case uses. */
const address = () => `10.13.${Math.floor(nextAddress / 250)}.${(nextAddress++ % 250) + 1}`;

const LIMITS = {
  CLIENT_ADDRESS_HEADER: "X-Real-IP",
  // Slow refills where a case only needs the refusal (1 per 5 s), a faster one
  // where a case waits out its Retry-After (1 per 2 s), so that a slow
  // machine's requests do not refill a bucket in the middle of a case.
  AUTH_ADDRESS_LIMIT: "6/30s",
  LOGIN_ACCOUNT_LIMIT: "4/8s",
  UPGRADE_ADDRESS_LIMIT: "8/40s",
  UPGRADE_USER_LIMIT: "6/6s",
  MAX_SOCKETS_PER_USER: "3",
  RATE_LIMIT_PER_SECOND: "10",
  RATE_LIMIT_BURST: "20",
};

beforeAll(async () => {
  sec = await startSecurityServer(LIMITS);
  alice = await user("alice");
  bob = await user("bob");
  room = await sec.room(alice, "public", "abuse");
});

afterAll(async () => {
  await sec?.stop();
});

/** Registers and logs in from addresses of its own, so that the setup spends no case's bucket. */
async function user(prefix: string): Promise<TestUser> {
  const username = `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
  const password = sec.secret(`password of ${username}`, `pw-${Math.random().toString(36).slice(2)}-${Date.now()}`);
  const registered = await sec.request("/auth/register", { json: { username, password }, headers: { "X-Real-IP": address() } });
  expect(registered.status).toBe(201);
  const login = await sec.request("/auth/login", { json: { username, password }, headers: { "X-Real-IP": address() } });
  expect(login.status).toBe(200);
  const body = login.json as { token: string; user: { id: string } };
  sec.secret(`token of ${username}`, body.token);
  return { id: body.user.id, username, password, token: body.token };
}

const login = (username: string, password: string, headers: Record<string, string>) =>
  sec.request("/auth/login", { json: { username, password }, headers });

/** The contract's 429: `rate_limited` and a whole number of seconds in Retry-After. */
function expect429(answer: Answer | { status: number; headers: Record<string, string>; body: string }): number {
  const retryAfter = answer.headers instanceof Headers ? answer.headers.get("retry-after") : answer.headers["retry-after"];
  if (answer.status !== 429) throw new Error(`status ${answer.status}, not 429`);
  const text = "text" in answer ? answer.text : answer.body;
  expect(JSON.parse(text)).toMatchObject({ error: { code: "rate_limited" } });
  expect(retryAfter).toMatch(/^[1-9]\d*$/);
  return Number(retryAfter);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

it("login does not tell existing users from unknown ones: same status, same body, same time", async () => {
  // Each attempt is a username of its own from an address of its own, so no
  // limit is met. A failed login runs one PBKDF2 of 100,000 iterations for
  // an existing user and for an unknown one (a decoy hash): measured 15-20 ms
  // here, most of the request. A path that skipped the hash for unknown users
  // would take a few milliseconds instead, so the medians of 24 interleaved
  // attempts each must agree within 30% of the median (at least 8 ms): wide
  // enough for the noise of a busy 2-core machine, far narrower than the
  // difference a skipped hash makes.
  const existing: TestUser[] = [];
  for (let i = 0; i < 24; i++) existing.push(await user(`timing${i}`));
  const times = { existing: [] as number[], unknown: [] as number[] };
  const bodies = new Set<string>();
  for (const [i, known] of existing.entries()) {
    for (const kind of i % 2 ? (["existing", "unknown"] as const) : (["unknown", "existing"] as const)) {
      const username = kind === "existing" ? known.username : `${known.username}-x`;
      const started = performance.now();
      const answer = await login(username, "wrong-password-123", { "X-Real-IP": address() });
      times[kind].push(performance.now() - started);
      bodies.add(`${answer.status} ${answer.text}`);
    }
  }
  const [known, unknown] = [median(times.existing), median(times.unknown)];
  const tolerance = Math.max(8, 0.3 * Math.max(known, unknown));
  console.log(
    `security: abuse: failed login median ${known.toFixed(1)} ms for existing users, ${unknown.toFixed(1)} ms for unknown (tolerance ${tolerance.toFixed(1)} ms)`,
  );
  await tally.check("abuse", "one status and body for both", () =>
    expect([...bodies]).toEqual([expect.stringMatching(/^401 .*invalid_credentials/)]),
  );
  await tally.check("abuse", "medians within the tolerance", () => expect(Math.abs(known - unknown)).toBeLessThanOrEqual(tolerance));
  await tally.check("abuse", "a failed login costs a hash (not a fast path)", () => expect(Math.min(known, unknown)).toBeGreaterThan(2));
  tally.expectClean("abuse");
});

it("login floods: per username and per address, 429 with Retry-After, the same for unknown users, no lockout", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("abuse", name, run);
  await check("one username from many addresses: 4 tries, then 429; an unknown username the same", async () => {
    const victim = await user("victim");
    const flood = async (username: string) => {
      const answers: Answer[] = [];
      for (let i = 0; i < 7; i++) answers.push(await login(username, "guess-password-1", { "X-Real-IP": address() }));
      return answers;
    };
    const [real, ghost] = [await flood(victim.username), await flood(`${victim.username}-ghost`)];
    for (const answers of [real, ghost]) {
      expect(answers.slice(0, 4).map((a) => a.status)).toEqual([401, 401, 401, 401]);
      expect(answers.slice(4).map((a) => a.status)).toContain(429);
      for (const refusal of answers.filter((a) => a.status === 429)) expect429(refusal);
    }
    // The same answers, word for word, for a real and an unknown username.
    const distinct = (answers: Answer[]) => [...new Set(answers.map((a) => `${a.status} ${a.text}`))].sort();
    expect(distinct(real)).toEqual(distinct(ghost));
    // The right password meets the same 429 while the bucket is empty: no oracle.
    const right = await login(victim.username, victim.password, { "X-Real-IP": address() });
    const wait = expect429(right);
    // No lockout: after Retry-After the right password works.
    await sleep(wait * 1000 + 100);
    expect((await login(victim.username, victim.password, { "X-Real-IP": address() })).status).toBe(200);
  });
  await check("one address, many usernames: 6 tries, then 429 with Retry-After", async () => {
    const from = address();
    const answers: Answer[] = [];
    for (let i = 0; i < 8; i++) answers.push(await login(`nobody-${i}-${from}`, "guess-password-1", { "X-Real-IP": from }));
    expect(answers.slice(0, 6).map((a) => a.status)).toEqual(new Array(6).fill(401));
    expect429(answers[6] as Answer);
    expect429(answers[7] as Answer);
    // Other headers a client could set do not change its address.
    for (const [header, value] of [
      ["X-Forwarded-For", "192.0.2.1"],
      ["CF-Connecting-IP", "192.0.2.2"],
      ["Forwarded", "for=192.0.2.3"],
      ["True-Client-IP", "192.0.2.4"],
      ["X-Client-IP", "192.0.2.5"],
    ] as const) {
      expect429(await login(`nobody-h-${from}`, "guess-password-1", { "X-Real-IP": from, [header]: value }));
    }
    // Another address has a bucket of its own.
    expect((await login(`nobody-other-${from}`, "guess-password-1", { "X-Real-IP": address() })).status).toBe(401);
  });
  await check("an IPv6 client counts by its /64", async () => {
    const prefix = `2001:db8:13:${nextAddress++}`;
    for (let i = 1; i <= 6; i++)
      expect((await login(`v6-${prefix}-${i}`, "guess-password-1", { "X-Real-IP": `${prefix}::${i}` })).status).toBe(401);
    expect429(await login(`v6-${prefix}-x`, "guess-password-1", { "X-Real-IP": `${prefix}::abcd:1` }));
    expect((await login(`v6-${prefix}-y`, "guess-password-1", { "X-Real-IP": `2001:db8:14:${nextAddress++}::1` })).status).toBe(401);
  });
  await check("registrations count against the address: the 7th from one address gets 429", async () => {
    const from = address();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const username = `reg${i}-${Math.random().toString(36).slice(2, 10)}`;
      statuses.push(
        (await sec.request("/auth/register", { json: { username, password: "password-long-enough" }, headers: { "X-Real-IP": from } }))
          .status,
      );
    }
    expect(statuses.slice(0, 6)).toEqual(new Array(6).fill(201));
    expect(statuses[6]).toBe(429);
  });
  await check(
    "a taken username on register is 409 whatever the address (the contract names it; the address limit bounds how fast it can be asked)",
    async () => {
      const answer = await sec.request("/auth/register", {
        json: { username: alice.username, password: "password-long-enough" },
        headers: { "X-Real-IP": address() },
      });
      expect(answer.status).toBe(409);
    },
  );
  await check("LIMIT: a request without the address header is not counted per address (only the username limit applies)", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login(`noaddr-${i}-${nextAddress}`, "guess-password-1", {})).status);
    expect(statuses).toEqual(new Array(8).fill(401));
  });
  tally.expectClean("abuse");
});

it("one user's messages share one budget across sockets and REST publish", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("abuse", name, run);
  await check("three sockets of one user sending 30 each at once: at most the burst and the refill are stored", async () => {
    const spender = await user("spender");
    const target = await sec.room(spender, "public", "budget");
    const sockets: RawSocket[] = [];
    for (let i = 0; i < 3; i++) sockets.push(await sec.open(target, spender.token));
    const started = Date.now();
    for (const [s, socket] of sockets.entries()) {
      for (let i = 0; i < 30; i++) socket.sendJson({ type: "send", clientMsgId: `s${s}-${i}`, body: "flood" });
    }
    // The budget is the user's: REST publish from the same user, at once, meets it too.
    const rest: Answer[] = [];
    for (let i = 0; i < 10; i++) {
      rest.push(
        await sec.request(`/rooms/${target}/messages`, { token: spender.token, json: { clientMsgId: `rest-${i}`, body: "over REST" } }),
      );
    }
    const elapsed = (Date.now() - started) / 1000;
    await sleep(300);
    const acks = sockets.reduce((n, s) => n + s.ofType("ack").length, 0);
    const stored = acks + rest.filter((a) => a.status === 201).length;
    const refused = sockets.reduce((n, s) => n + s.ofType("error").filter((e) => e.code === "rate_limited").length, 0);
    console.log(
      `security: abuse: 3 sockets x 30 sends and 10 REST publishes of one user: ${stored} stored (${acks} over sockets), ${refused} frames and ${rest.length - (stored - acks)} publishes refused, in ${elapsed.toFixed(2)} s`,
    );
    expect(stored).toBeGreaterThanOrEqual(15);
    expect(stored).toBeLessThanOrEqual(20 + Math.ceil(10 * elapsed) + 1);
    expect429(rest.find((a) => a.status !== 201) as Answer);
    expect(rest.filter((a) => ![201, 429].includes(a.status))).toEqual([]);
    // Another user in the same room is not held by it.
    expect(
      (await sec.request(`/rooms/${target}/messages`, { token: bob.token, json: { clientMsgId: "bob-1", body: "me too" } })).status,
    ).toBe(201);
    for (const socket of sockets) socket.destroy();
  });
  await check("REST publish alone: the burst, then 429 with Retry-After, then accepted again after it", async () => {
    const publisher = await user("publisher");
    // All at once, so that the refill during the burst stays small on a slow machine too.
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        sec.request(`/rooms/${room}/messages`, { token: publisher.token, json: { clientMsgId: `p${i}`, body: "flood" } }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    const refusal = answers.find((a) => a.status === 429);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(20);
    expect(statuses.filter((s) => ![201, 429].includes(s))).toEqual([]);
    const wait = expect429(refusal as Answer);
    await sleep(wait * 1000);
    expect(
      (await sec.request(`/rooms/${room}/messages`, { token: publisher.token, json: { clientMsgId: "after", body: "ok" } })).status,
    ).toBe(201);
  });
  tally.expectClean("abuse");
});

it("upgrades: per address, per user, and open sockets per user", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("abuse", name, run);
  const upgrade = async (path: string, headers: Record<string, string>) => {
    const result = await sec.upgrade(path, headers);
    if (result.ok) return { status: 101, headers: result.answer.headers, body: "", socket: result.socket };
    return { status: result.answer.status, headers: result.answer.headers, body: result.answer.body, socket: undefined };
  };
  await check("one address: 8 upgrades (even unauthenticated ones), then 429 with Retry-After", async () => {
    const from = address();
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof upgrade>> | undefined;
    for (let i = 0; i < 9; i++) {
      last = await upgrade(`/rooms/${room}/ws`, { "X-Real-IP": from });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 8)).toEqual(new Array(8).fill(401));
    expect429(last as { status: number; headers: Record<string, string>; body: string });
  });
  await check("one user: 6 upgrades, then 429 with Retry-After (spent before the room is looked up)", async () => {
    const climber = await user("climber");
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof upgrade>> | undefined;
    for (let i = 0; i < 7; i++) {
      last = await upgrade("/rooms/no-such-room-at-all/ws", { Authorization: `Bearer ${climber.token}`, "X-Real-IP": address() });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 6)).toEqual(new Array(6).fill(404));
    expect429(last as { status: number; headers: Record<string, string>; body: string });
  });
  await check("one user: 3 open sockets, the 4th refused with 429; one closed, one more allowed", async () => {
    const hoarder = await user("hoarder");
    const rooms = [await sec.room(hoarder, "public", "h1"), await sec.room(hoarder, "public", "h2")];
    const sockets: RawSocket[] = [];
    for (let i = 0; i < 3; i++) sockets.push(await sec.open(rooms[i % 2] ?? room, hoarder.token));
    const fourth = await upgrade(`/rooms/${rooms[1]}/ws`, { Authorization: `Bearer ${hoarder.token}`, "X-Real-IP": address() });
    fourth.socket?.destroy();
    expect(fourth.status).toBe(429);
    expect(JSON.parse(fourth.body)).toMatchObject({ error: { code: "rate_limited" } });
    sockets[0]?.close(1000);
    await sockets[0]?.waitClosed(5000);
    let again: Awaited<ReturnType<typeof upgrade>> | undefined;
    for (let i = 0; i < 50 && again?.status !== 101; i++) {
      again = await upgrade(`/rooms/${rooms[0]}/ws`, { Authorization: `Bearer ${hoarder.token}`, "X-Real-IP": address() });
      if (again.status !== 101) await sleep(100);
    }
    expect(again?.status).toBe(101);
    again?.socket?.destroy();
    for (const socket of sockets) socket.destroy();
  });
  tally.expectClean("abuse");
});

it("leaks no token, password, secret or database URL to logs, metrics, Sentry or error answers", async () => {
  await tally.check("secrets", "abuse file: nothing leaked", async () => expect(await sec.leaks()).toEqual([]));
  tally.expectClean("secrets");
});
