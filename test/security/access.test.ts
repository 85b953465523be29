// Authorisation and injection. A user who may not see a private room gets,
// at every door (room lookup, history `after`/`before`, REST publish,
// members, the socket upgrade, the room list, presence), exactly what a room
// that does not exist gets: 404 whatever else the request held. Identity
// fields in payloads are ignored. SQL metacharacters, script payloads and
// bidi controls in every field are stored and served verbatim, as JSON with
// nosniff, and never reach a query as SQL.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSql } from "../../sql/db.ts";
import type { RawSocket } from "../support/raw-ws.ts";
import { LIMITS_OFF, sleep, startSecurityServer, Tally, type Answer, type SecurityServer, type TestUser } from "../support/security.ts";

const tally = new Tally();
let sec: SecurityServer;
let owner: TestUser;
let member: TestUser;
let outsider: TestUser;
let secret: string;
let open: string;

beforeAll(async () => {
  // A log of two messages, so that history and the checks below read the archive in PostgreSQL too.
  sec = await startSecurityServer({ ...LIMITS_OFF, ROOM_LOG_RETENTION: "2,7d" });
  owner = await sec.user("owner");
  member = await sec.user("member");
  outsider = await sec.user("outsider");
  // Ids that sort first: GET /rooms lists at most 1000 rooms by id, and the shared test database holds many.
  secret = await sec.room(owner, "private", "0-secret");
  open = await sec.room(owner, "public", "0-open");
  expect((await sec.request(`/rooms/${secret}/members`, { token: owner.token, json: { username: member.username } })).status).toBe(204);
});

afterAll(async () => {
  await sec?.stop();
});

/** Status and body, the parts of an answer a caller could compare. */
const shape = (a: Answer) => ({ status: a.status, body: a.json ?? a.text });

it("a non-member gets what a missing room gets, 404, at every door and whatever the query or body", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("authorisation", name, run);
  const missing = `missing-${randomUUID().slice(0, 8)}`;
  const t = outsider.token;
  const doors: [string, (room: string) => Promise<Answer>][] = [
    ["GET /rooms/:id", (room) => sec.request(`/rooms/${room}`, { token: t })],
    ["GET /rooms/:id/messages", (room) => sec.request(`/rooms/${room}/messages`, { token: t })],
    ["history after=0", (room) => sec.request(`/rooms/${room}/messages?after=0`, { token: t })],
    ["history before=5&limit=200", (room) => sec.request(`/rooms/${room}/messages?before=5&limit=200`, { token: t })],
    ["history after=-1", (room) => sec.request(`/rooms/${room}/messages?after=-1`, { token: t })],
    ["history limit=0", (room) => sec.request(`/rooms/${room}/messages?limit=0`, { token: t })],
    ["history limit=201", (room) => sec.request(`/rooms/${room}/messages?limit=201`, { token: t })],
    ["history after and before", (room) => sec.request(`/rooms/${room}/messages?after=1&before=9`, { token: t })],
    ["history after=abc", (room) => sec.request(`/rooms/${room}/messages?after=abc`, { token: t })],
    [
      "history after='; DROP",
      (room) => sec.request(`/rooms/${room}/messages?after=${encodeURIComponent("1'; DROP TABLE messages; --")}`, { token: t }),
    ],
    ["publish", (room) => sec.request(`/rooms/${room}/messages`, { token: t, json: { clientMsgId: "x1", body: "let me in" } })],
    ["publish, invalid body", (room) => sec.request(`/rooms/${room}/messages`, { token: t, json: { clientMsgId: "", body: 5 } })],
    [
      "publish, not JSON",
      (room) => sec.request(`/rooms/${room}/messages`, { token: t, body: "{", headers: { "Content-Type": "application/json" } }),
    ],
    [
      "publish, 70 KB body",
      (room) => sec.request(`/rooms/${room}/messages`, { token: t, json: { clientMsgId: "big", body: "b".repeat(70_000) } }),
    ],
    ["add a member", (room) => sec.request(`/rooms/${room}/members`, { token: t, json: { username: outsider.username } })],
    ["add a member, invalid body", (room) => sec.request(`/rooms/${room}/members`, { token: t, json: { username: 7 } })],
  ];
  for (const [name, call] of doors) {
    await check(`${name}: 404 room_not_found, the same as for a missing room`, async () => {
      const [hidden, absent] = [await call(secret), await call(missing)];
      expect(shape(hidden)).toEqual(shape(absent));
      expect(hidden.status).toBe(404);
      expect(hidden.json).toMatchObject({ error: { code: "room_not_found" } });
    });
  }
  const upgrade = async (room: string, query = "", headers: Record<string, string> = {}) => {
    const result = await sec.upgrade(`/rooms/${room}/ws${query}`, { Authorization: `Bearer ${t}`, ...headers });
    if (result.ok) {
      result.socket.destroy();
      return { status: 101, body: "" };
    }
    return { status: result.answer.status, body: result.answer.body };
  };
  for (const [name, query] of [
    ["the upgrade", ""],
    ["the upgrade with lastSeq=0", "?lastSeq=0"],
    ["the upgrade with lastSeq=-1", "?lastSeq=-1"],
    ["the upgrade with lastSeq=abc", "?lastSeq=abc"],
  ] as const) {
    await check(`${name}: 404, the same as for a missing room`, async () => {
      const [hidden, absent] = [await upgrade(secret, query), await upgrade(missing, query)];
      expect(hidden).toEqual(absent);
      expect(hidden.status).toBe(404);
    });
  }
  await check("the upgrade with a ticket: 404, and the ticket is spent", async () => {
    const ticket = ((await sec.request("/auth/ticket", { method: "POST", token: t })).json as { ticket: string }).ticket;
    sec.secret("the outsider's ticket", ticket);
    const hidden = await sec.upgrade(`/rooms/${secret}/ws?ticket=${ticket}`);
    expect(hidden.ok ? 101 : hidden.answer.status).toBe(404);
    const again = await sec.upgrade(`/rooms/${open}/ws?ticket=${ticket}`);
    expect(again.ok ? 101 : again.answer.status).toBe(401);
  });
  await check("a forged X-Roomcast-Identity naming the owner changes nothing: 404", async () => {
    const forged = JSON.stringify({
      user: { id: owner.id, username: owner.username },
      room: { id: secret, name: secret, type: "private", createdAt: "" },
      exp: 9e9,
    });
    expect((await upgrade(secret, "", { "X-Roomcast-Identity": forged })).status).toBe(404);
  });
  await check("a forged X-Roomcast-Identity on a room one may see: the welcome carries the caller", async () => {
    const forged = JSON.stringify({ user: { id: owner.id, username: owner.username }, room: { id: open }, exp: 9e9 });
    const result = await sec.upgrade(`/rooms/${open}/ws`, { Authorization: `Bearer ${t}`, "X-Roomcast-Identity": forged });
    if (!result.ok) throw new Error(`refused ${result.answer.status}`);
    const [welcome] = await result.socket.waitType("welcome");
    result.socket.destroy();
    expect(welcome?.user).toEqual({ id: outsider.id, username: outsider.username });
  });
  await check("the room list: the private room only for its members", async () => {
    const ids = async (user: TestUser) =>
      ((await sec.request("/rooms", { token: user.token })).json as { rooms: { id: string }[] }).rooms.map((r) => r.id);
    expect(await ids(outsider)).not.toContain(secret);
    expect(await ids(outsider)).toContain(open);
    expect(await ids(member)).toContain(secret);
    expect(await ids(owner)).toContain(secret);
  });
  await check("a member who is not the owner cannot add members: 403 forbidden", async () => {
    const answer = await sec.request(`/rooms/${secret}/members`, { token: member.token, json: { username: outsider.username } });
    expect(answer.status).toBe(403);
    expect(answer.json).toMatchObject({ error: { code: "forbidden" } });
  });
  await check("a percent-encoded room id is the same room: still 404 for the outsider, 200 for a member", async () => {
    const encoded = secret.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`);
    expect((await sec.request(`/rooms/${encoded}`, { token: t })).status).toBe(404);
    expect((await sec.request(`/rooms/${encoded}`, { token: member.token })).status).toBe(200);
  });
  tally.expectClean("authorisation");
});

it("presence, typing and messages stay in their room", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("authorisation", name, run);
  const inOpen = await sec.open(open, outsider.token);
  const inSecret = await sec.open(secret, member.token);
  const ownerInSecret = await sec.open(secret, owner.token);
  await check("the welcome's presence lists only the room's own sockets", async () => {
    const welcome = inOpen.ofType("welcome")[0] as { presence: { userId: string }[] };
    expect(welcome.presence.map((p) => p.userId)).toEqual([outsider.id]);
    await inSecret.waitType("presence");
    expect(inSecret.ofType("presence")[0]).toMatchObject({ event: "join", user: { userId: owner.id } });
  });
  await check("typing and a message in the private room reach its members only", async () => {
    ownerInSecret.sendJson({ type: "typing" });
    ownerInSecret.sendJson({ type: "send", clientMsgId: "private-1", body: "members only" });
    await inSecret.waitType("message");
    await inSecret.waitType("typing");
    await sleep(300);
    expect(inOpen.json().filter((f) => f.type !== "welcome")).toEqual([]);
  });
  await check("after the owner adds the outsider, the outsider gets in at once (a refusal is never cached)", async () => {
    expect((await sec.request(`/rooms/${secret}/members`, { token: owner.token, json: { username: outsider.username } })).status).toBe(204);
    expect((await sec.request(`/rooms/${secret}`, { token: outsider.token })).status).toBe(200);
    const socket = await sec.open(secret, outsider.token);
    socket.destroy();
  });
  for (const s of [inOpen, inSecret, ownerInSecret]) s.destroy();
  tally.expectClean("authorisation");
});

it("identity fields in payloads are ignored", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("authorisation", name, run);
  await check("a REST publish naming another sender, room, seq, id and time is stored as the caller's", async () => {
    const answer = await sec.request(`/rooms/${open}/messages`, {
      token: member.token,
      json: {
        clientMsgId: "forged-rest",
        body: "who am I",
        userId: owner.id,
        username: owner.username,
        user: { id: owner.id },
        roomId: secret,
        seq: 999,
        id: "00000000-0000-0000-0000-000000000000",
        createdAt: "1999-01-01T00:00:00.000Z",
      },
    });
    expect(answer.status).toBe(201);
    const message = (answer.json as { message: Record<string, unknown> }).message;
    expect(message).toMatchObject({ roomId: open, userId: member.id, username: member.username, body: "who am I" });
    expect(message.seq).not.toBe(999);
    expect(message.id).not.toBe("00000000-0000-0000-0000-000000000000");
    expect(String(message.createdAt)).not.toContain("1999");
  });
  await check("a room created with an ownerId belongs to its creator", async () => {
    const id = `owned-${randomUUID().slice(0, 8)}`;
    expect(
      (await sec.request("/rooms", { token: outsider.token, json: { id, type: "private", ownerId: owner.id, owner_id: owner.id } })).status,
    ).toBe(201);
    expect((await sec.request(`/rooms/${id}`, { token: owner.token })).status).toBe(404);
    expect((await sec.request(`/rooms/${id}/members`, { token: outsider.token, json: { username: member.username } })).status).toBe(204);
  });
  await check("a registration that names an id gets its own", async () => {
    const chosen = randomUUID();
    const username = `chosen-${randomUUID().slice(0, 8)}`;
    const answer = await sec.request("/auth/register", {
      json: { username, password: "password-long-enough", id: chosen, user: { id: chosen } },
    });
    expect(answer.status).toBe(201);
    expect((answer.json as { user: { id: string } }).user.id).not.toBe(chosen);
  });
  await check("a prototype-polluting body changes no type check: 400", async () => {
    const answer = await sec.request("/rooms", {
      token: outsider.token,
      body: `{"id":"proto-${randomUUID().slice(0, 6)}","__proto__":{"type":"public"}}`,
    });
    expect(answer.status).toBe(400);
    const after = await sec.request("/rooms", { token: outsider.token, json: { id: `proto2-${randomUUID().slice(0, 6)}` } });
    expect(after.status).toBe(400);
  });
  tally.expectClean("authorisation");
});

const SQL = [
  "' OR '1'='1",
  "'; DROP TABLE messages; --",
  '" OR ""="',
  "\\",
  "\\'",
  "%",
  "_",
  "%_%",
  "$1",
  "$$ $$",
  "1; SELECT pg_sleep(3)--",
  "' || pg_sleep(3) || '",
  "' UNION SELECT password_hash FROM users --",
  "`id`",
  "/* comment */",
  "?",
  ":name",
  "${x}",
  "{{x}}",
];
const RENDERING = [
  "<script>alert(1)</script>",
  '"><img src=x onerror=alert(1)>',
  "javascript:alert(1)",
  "</script><script>alert(2)</script>",
  "\u202Eevil\u202C.exe",
  "\u2066isolate\u2069 \u2067rtl\u2069 \u200F",
  "\u200B\u200C\u200D\uFEFF",
  "e\u0301",
  "\u{1F600}\u{1F3F3}\uFE0F\u200D\u{1F308}",
  "line\r\nbreak\ttab",
  "\u0007\u001b[31mred\u001b[0m",
  "\u2028\u2029",
  "\uFFFD",
];

it("SQL metacharacters, scripts and bidi controls in every field: refused cleanly or stored and served verbatim, as JSON with nosniff", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("injection", name, run);
  const payloads = [...SQL, ...RENDERING];
  /** A request must answer within 2 s (a pg_sleep(3) that ran would show) and never 500. */
  const timed = async (call: () => Promise<Answer>) => {
    const started = Date.now();
    const answer = await call();
    if (Date.now() - started > 2000) throw new Error(`took ${Date.now() - started} ms`);
    if (answer.status >= 500) throw new Error(`${answer.status} ${answer.text}`);
    return answer;
  };
  const room = await sec.room(owner, "public", "inject");
  const socket: RawSocket = await sec.open(room, owner.token);
  const sent: { clientMsgId: string; body: string; seq: number }[] = [];
  for (const [i, payload] of payloads.entries()) {
    const label = JSON.stringify(payload);
    await check(`login username ${label}: 401 invalid_credentials, like a wrong password`, async () => {
      const answer = await timed(() => sec.request("/auth/login", { json: { username: payload, password: "whatever-password" } }));
      const wrong = await sec.request("/auth/login", { json: { username: owner.username, password: "wrong-password-here" } });
      expect(shape(answer)).toEqual(shape(wrong));
    });
    await check(`login password ${label}: 401`, async () => {
      expect((await timed(() => sec.request("/auth/login", { json: { username: owner.username, password: payload } }))).status).toBe(401);
    });
    await check(`register username ${label}: 400 invalid_request`, async () => {
      const answer = await timed(() => sec.request("/auth/register", { json: { username: payload, password: "password-long-enough" } }));
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ error: { code: "invalid_request" } });
    });
    await check(`member username ${label}: 404 user_not_found`, async () => {
      const answer = await timed(() => sec.request(`/rooms/${room}/members`, { token: owner.token, json: { username: payload } }));
      expect(answer.json).toMatchObject({ error: { code: "user_not_found" } });
    });
    await check(`room id ${label}: 400 on create, 404 on lookup`, async () => {
      expect((await timed(() => sec.request("/rooms", { token: owner.token, json: { id: payload, type: "public" } }))).status).toBe(400);
      expect((await timed(() => sec.request(`/rooms/${encodeURIComponent(payload)}/messages`, { token: owner.token }))).status).toBe(404);
    });
    await check(`room name ${label}: stored verbatim (trimmed)`, async () => {
      const id = `name-${i}-${randomUUID().slice(0, 6)}`;
      const created = await timed(() => sec.request("/rooms", { token: owner.token, json: { id, name: payload, type: "public" } }));
      if (payload.trim() === "") return expect(created.status).toBe(400);
      expect(created.status).toBe(201);
      expect(((await sec.request(`/rooms/${id}`, { token: owner.token })).json as { room: { name: string } }).room.name).toBe(
        payload.trim(),
      );
    });
    for (const param of ["after", "before", "limit"]) {
      await check(`history ${param}=${label}: 400 or a page, never 500`, async () => {
        const answer = await timed(() =>
          sec.request(`/rooms/${room}/messages?${param}=${encodeURIComponent(payload)}`, { token: owner.token }),
        );
        expect([200, 400]).toContain(answer.status);
      });
    }
    await check(`a body and clientMsgId ${label} over the socket and REST: stored verbatim`, async () => {
      const clientMsgId = `${payload}`.slice(0, 60) + `#${i}`;
      const acks = socket.ofType("ack").length;
      socket.sendJson({ type: "send", clientMsgId, body: payload });
      await socket.until(() => socket.ofType("ack").length > acks, "the ack");
      const live = socket.ofType("message").find((m) => m.clientMsgId === clientMsgId);
      expect(live?.body).toBe(payload);
      const rest = await timed(() =>
        sec.request(`/rooms/${room}/messages`, { token: member.token, json: { clientMsgId, body: `rest ${payload}` } }),
      );
      expect((rest.json as { message: { body: string; clientMsgId: string } }).message).toMatchObject({
        body: `rest ${payload}`,
        clientMsgId,
      });
      sent.push({ clientMsgId, body: payload, seq: Number(live?.seq) });
    });
  }
  await check("the same clientMsgIds again dedupe to their first seq, exactly (no two metacharacter ids collide)", async () => {
    for (const m of sent.slice(0, 10)) {
      const acks = socket.ofType("ack").length;
      socket.sendJson({ type: "send", clientMsgId: m.clientMsgId, body: "resend" });
      await socket.until(() => socket.ofType("ack").length > acks, "the ack");
      expect(socket.ofType("ack").at(-1)).toMatchObject({ clientMsgId: m.clientMsgId, seq: m.seq });
    }
  });
  await check("history from the log and from PostgreSQL gives back every body verbatim", async () => {
    // The room keeps 2 messages in its log; the rest is read from the archive once copied.
    const sql = createSql(sec.databaseUrl);
    try {
      let archived = 0;
      for (let i = 0; i < 50 && archived < sent.length; i++) {
        archived = Number(
          (await sql`SELECT count(*)::int AS n FROM messages WHERE room_id = ${room} AND user_id = ${owner.id}`)[0]?.n ?? 0,
        );
        if (archived < sent.length) await sleep(100);
      }
      const rows = await sql`SELECT client_msg_id, body FROM messages WHERE room_id = ${room} AND user_id = ${owner.id} ORDER BY seq`;
      expect(rows.map((r) => ({ clientMsgId: r.client_msg_id as string, body: r.body as string }))).toEqual(
        sent.map(({ clientMsgId, body }) => ({ clientMsgId, body })),
      );
    } finally {
      await sql.end({ timeout: 2 });
    }
    const all: { seq: number; body: string; clientMsgId: string }[] = [];
    for (let after = 0; ;) {
      const page = (await sec.request(`/rooms/${room}/messages?after=${after}&limit=200`, { token: member.token })).json as {
        messages: typeof all;
      };
      if (page.messages.length === 0) break;
      all.push(...page.messages);
      after = page.messages.at(-1)?.seq ?? after;
    }
    for (const m of sent) expect(all.find((x) => x.seq === m.seq)).toMatchObject({ body: m.body, clientMsgId: m.clientMsgId });
  });
  await check("the tables are all still there", async () => {
    const sql = createSql(sec.databaseUrl);
    try {
      const tables = await sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`;
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["users", "rooms", "room_members", "messages", "ws_tickets"]));
    } finally {
      await sql.end({ timeout: 2 });
    }
  });
  socket.destroy();
  tally.expectClean("injection");
});

it("serves every answer, errors included, as JSON with nosniff and no-store", async () => {
  const check = (name: string, run: () => Promise<void>) => tally.check("injection", name, run);
  const room = await sec.room(owner, "public", "render");
  await sec.request(`/rooms/${room}/messages`, { token: owner.token, json: { clientMsgId: "s", body: "<script>alert(1)</script>" } });
  const answers: [string, () => Promise<Answer>][] = [
    ["history", () => sec.request(`/rooms/${room}/messages`, { token: owner.token })],
    ["publish", () => sec.request(`/rooms/${room}/messages`, { token: owner.token, json: { clientMsgId: "t", body: "<b>x</b>" } })],
    ["room", () => sec.request(`/rooms/${room}`, { token: owner.token })],
    ["rooms", () => sec.request("/rooms", { token: owner.token })],
    ["me", () => sec.request("/auth/me", { token: owner.token })],
    ["login", () => sec.request("/auth/login", { json: { username: owner.username, password: owner.password } })],
    ["a 400", () => sec.request(`/rooms/${room}/messages?limit=0`, { token: owner.token })],
    ["a 401", () => sec.request("/rooms")],
    ["a 404 route", () => sec.request("/<script>")],
    ["a 404 room", () => sec.request("/rooms/%3Cscript%3E", { token: owner.token })],
    ["healthz", () => sec.request("/healthz")],
  ];
  for (const [name, call] of answers) {
    await check(`${name}: application/json, nosniff, no-store`, async () => {
      const answer = await call();
      expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      expect(answer.headers.get("cache-control")).toContain("no-store");
      expect(answer.json).toBeDefined();
    });
  }
  await check("a script payload comes back as a JSON string, byte for byte", async () => {
    const answer = await sec.request(`/rooms/${room}/messages`, { token: owner.token });
    expect((answer.json as { messages: { body: string }[] }).messages[0]?.body).toBe("<script>alert(1)</script>");
  });
  tally.expectClean("injection");
});

it("metric labels carry no room id, username or path (bounded label values)", async () => {
  await tally.check("secrets", "no room id, username or request path in the metrics", async () => {
    const metrics = await sec.metrics();
    const labelValues = [...metrics.matchAll(/="([^"]*)"/g)].map((m) => m[1] ?? "");
    for (const value of [secret, open, owner.username, member.username, outsider.username, owner.id, member.id]) {
      expect(labelValues.filter((v) => v.includes(value))).toEqual([]);
    }
    const routes = new Set([...metrics.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const route of routes) expect(route).toMatch(/^(unmatched|\/[a-z/:*]*)$/);
  });
  tally.expectClean("secrets");
});

it("leaks no token, ticket, password, secret or database URL to logs, metrics, Sentry or error answers", async () => {
  await tally.check("secrets", "access file: nothing leaked", async () => expect(await sec.leaks()).toEqual([]));
  tally.expectClean("secrets");
});
