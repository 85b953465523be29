// Tokens and tickets, through every door that takes one: the REST routes,
// the WebSocket upgrade and the `auth` frame on an open socket. A token that
// is not a valid HS256 token of this deployment gets 401 with
// `WWW-Authenticate: Bearer` (an error frame on the socket), never 500 and
// never a way in; core/tokens.ts pins HS256, requires exp and sub, checks
// issuer and audience, and allows 30 s of clock skew.
import { createHash, createHmac } from "node:crypto";
import fc from "fast-check";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createSql } from "../../sql/db.ts";
import type { RawSocket } from "../support/raw-ws.ts";
import {
  expect401,
  LIMITS_OFF,
  SECURITY_JWT_SECRET,
  signToken,
  sleep,
  startSecurityServer,
  Tally,
  type Answer,
  type SecurityServer,
  type TestUser,
} from "../support/security.ts";

/** The seed of the property-based cases; a failure prints its own seed and path too. */
const SEED = 13_2026_11;
/** MAX_FRAME_BYTES's default. */
const MAX_FRAME_BYTES = 16_384;
/** core/tokens.ts CLOCK_TOLERANCE_SECONDS. */
const TOLERANCE_S = 30;

const tally = new Tally();
let sec: SecurityServer;
let alice: TestUser;
let bob: TestUser;
let publicRoom: string;
let privateRoom: string;
let frameSocket: RawSocket;

beforeAll(async () => {
  sec = await startSecurityServer(LIMITS_OFF);
  alice = await sec.user("alice");
  bob = await sec.user("bob");
  publicRoom = await sec.room(alice, "public");
  privateRoom = await sec.room(alice, "private");
  frameSocket = await sec.open(publicRoom, alice.token);
});

afterAll(async () => {
  await sec?.stop();
});

type Outcome = "accepted" | "refused" | "expired";

/** One door that takes a token in `Authorization`, and what it answers a good one. */
interface Door {
  name: string;
  ok: number;
  call(authorization: string | null): Promise<Answer | { status: number; headers: Record<string, string>; json: unknown; text: string }>;
}

let counter = 0;
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

function doors(): Door[] {
  const http =
    (method: string, path: () => string, json?: () => unknown) =>
    (authorization: string | null): Promise<Answer> =>
      sec.request(path(), { method, json: json?.(), headers: authorization === null ? {} : { Authorization: authorization } });
  return [
    { name: "GET /auth/me", ok: 200, call: http("GET", () => "/auth/me") },
    { name: "POST /auth/ticket", ok: 200, call: http("POST", () => "/auth/ticket") },
    { name: "GET /rooms", ok: 200, call: http("GET", () => "/rooms") },
    {
      name: "POST /rooms",
      ok: 201,
      call: http(
        "POST",
        () => "/rooms",
        () => ({ id: unique("tok"), type: "public" }),
      ),
    },
    { name: "GET /rooms/:id", ok: 200, call: http("GET", () => `/rooms/${privateRoom}`) },
    {
      name: "POST /rooms/:id/members",
      ok: 204,
      call: http(
        "POST",
        () => `/rooms/${privateRoom}/members`,
        () => ({ username: bob.username }),
      ),
    },
    { name: "GET /rooms/:id/messages", ok: 200, call: http("GET", () => `/rooms/${privateRoom}/messages?after=0`) },
    {
      name: "POST /rooms/:id/messages",
      ok: 201,
      call: http(
        "POST",
        () => `/rooms/${privateRoom}/messages`,
        () => ({ clientMsgId: unique("c"), body: "token door" }),
      ),
    },
    {
      name: "GET /rooms/:id/ws",
      ok: 101,
      async call(authorization) {
        const result = await sec.upgrade(`/rooms/${publicRoom}/ws`, authorization === null ? {} : { Authorization: authorization });
        if (result.ok) result.socket.destroy();
        return { ...result.answer, json: safeJson(result.answer.body), text: result.answer.body };
      },
    },
  ];
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Checks one door's answer to a token that must get `outcome`. */
function expectOutcome(
  door: Door,
  answer: { status: number; headers: Headers | Record<string, string>; json: unknown; text: string },
  outcome: Outcome,
) {
  if (answer.status >= 500) throw new Error(`${answer.status} ${answer.text.slice(0, 200)}`);
  if (outcome === "accepted") {
    if (answer.status !== door.ok) throw new Error(`status ${answer.status}, not ${door.ok}: ${answer.text.slice(0, 200)}`);
    return;
  }
  expect401(answer, outcome === "expired" ? ["token_expired"] : ["unauthorized"]);
}

/** The `auth` frame door: a refused token gets an error frame and the socket stays open; an accepted one gets no answer. */
async function authFrame(token: string | undefined, outcome: Outcome): Promise<void> {
  const s = frameSocket;
  const errors = s.ofType("error").length;
  const pongs = s.ofType("pong").length;
  const frame = JSON.stringify(token === undefined ? { type: "auth" } : { type: "auth", token });
  if (Buffer.byteLength(frame) > MAX_FRAME_BYTES) {
    // Past MAX_FRAME_BYTES the frame itself is refused: close 1009, before any token check.
    s.text(frame);
    const closed = await s.waitClosed(5000);
    s.destroy();
    frameSocket = await sec.open(publicRoom, alice.token);
    if (closed?.code !== 1009) throw new Error(`an oversized auth frame got ${JSON.stringify(closed)}, not 1009`);
    if (outcome === "accepted") throw new Error("an oversized frame cannot be accepted");
    return;
  }
  s.text(frame);
  // Not the exact auto-response text, so that the room itself answers, after the auth frame.
  s.text('{ "type": "ping" }');
  await s.until(() => s.ofType("pong").length > pongs, "the pong after the auth frame", 5000);
  if (outcome === "accepted") {
    await sleep(150);
    const extra = s.ofType("error").slice(errors);
    if (extra.length > 0) throw new Error(`a good token was refused: ${JSON.stringify(extra)}`);
  } else {
    await s.until(() => s.ofType("error").length > errors, "the error frame", 5000);
    const error = s.ofType("error")[errors];
    const codes = token === undefined || token.length === 0 || token.length > 4096 ? ["bad_request"] : ["unauthorized"];
    if (!codes.includes(String(error?.code))) throw new Error(`error frame ${JSON.stringify(error)}`);
  }
  if (s.closeFrame || s.ended) throw new Error(`the socket closed: ${JSON.stringify(s.closeFrame)}`);
}

/** Restores the frame socket's expiry after a case that accepted a token expiring soon. */
async function renewFrameSocket(): Promise<void> {
  await authFrame(await signToken(alice, { expiresIn: 3600 }), "accepted");
}

const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/** A JWT built by hand: any header, any claims, any signature. */
function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  sign: string | { hash: string; key: string | Buffer },
): string {
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = typeof sign === "string" ? sign : createHmac(sign.hash, sign.key).update(input).digest("base64url");
  return `${input}.${signature}`;
}

function claimsOf(user: TestUser, changes: Record<string, unknown> = {}): Record<string, unknown> {
  const claims: Record<string, unknown> = {
    sub: user.id,
    name: user.username,
    iss: "roomcast",
    aud: "roomcast",
    iat: now(),
    exp: now() + 600,
  };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete claims[key];
    else claims[key] = value;
  }
  return claims;
}

interface TokenCase {
  name: string;
  /** The whole Authorization header (null: none). */
  header: string | null;
  /** The token an `auth` frame carries for this case; undefined skips the frame door (a header-only case). */
  frameToken?: string | null;
  outcome: Outcome;
}

const bearer = (name: string, token: string, outcome: Outcome): TokenCase => ({
  name,
  header: `Bearer ${token}`,
  frameToken: token,
  outcome,
});

async function tokenCases(): Promise<TokenCase[]> {
  const hs = (hash: string, key: string | Buffer = SECURITY_JWT_SECRET) => ({ hash, key });
  const claims = claimsOf(alice);
  const valid = await signToken(alice);
  const [validHead = "", validBody = ""] = valid.split(".");
  const attacker = await generateKeyPair("RS256");
  const attackerJwk = await exportJWK(attacker.publicKey);
  const rs256 = (header: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "RS256", ...header }).sign(attacker.privateKey);
  const capture = `http://127.0.0.1:${sec.capture.port}`;
  const otherKey = "another-deployment-secret-another-deployment";
  const es256 = forge({ alg: "ES256", typ: "JWT" }, claims, "");
  const esInput = es256.slice(0, -1);
  const esSignature = createHmac("sha256", SECURITY_JWT_SECRET).update(esInput).digest("base64url");
  const cases: TokenCase[] = [
    // Missing, malformed, other schemes.
    { name: "no Authorization header", header: null, frameToken: null, outcome: "refused" },
    { name: "Bearer with no token", header: "Bearer", frameToken: "", outcome: "refused" },
    {
      name: "Basic credentials",
      header: `Basic ${Buffer.from(`${alice.username}:${alice.password}`).toString("base64")}`,
      outcome: "refused",
    },
    { name: "a good token under scheme Token", header: `Token ${valid}`, outcome: "refused" },
    { name: "a good token with no space after Bearer", header: `Bearer${valid}`, outcome: "refused" },
    { name: "a good token followed by a second word", header: `Bearer ${valid} extra`, outcome: "refused" },
    { name: "two bearer tokens", header: `Bearer ${valid}, Bearer ${valid}`, outcome: "refused" },
    ...[
      "x",
      "null",
      "undefined",
      "a.b.c",
      "..",
      "e30.e30.",
      "e30.e30.e30",
      "e30",
      `${validHead}.${validBody}`,
      `${valid}.`,
      `${valid}.x.y`,
    ].map((token) => bearer(`garbage ${JSON.stringify(token.slice(0, 24))}`, token, "refused")),
    bearer("the good token's parts in the wrong order", `${validBody}.${validHead}.${valid.split(".")[2] ?? ""}`, "refused"),
    bearer("a good header and claims with a zero signature", `${validHead}.${validBody}.${"A".repeat(43)}`, "refused"),
    bearer("random base64url", Buffer.from(Array.from({ length: 150 }, (_, i) => (i * 37) % 256)).toString("base64url"), "refused"),
    bearer("JSON claims sent as the token", JSON.stringify(claims), "refused"),
    // alg none, in every spelling, with and without a signature.
    ...["none", "None", "NONE", "nOnE"].map((alg) => bearer(`alg ${alg}`, forge({ alg, typ: "JWT" }, claims, ""), "refused")),
    bearer("alg none keeping a real signature", forge({ alg: "none" }, claims, valid.split(".")[2] ?? ""), "refused"),
    bearer("no alg at all", forge({ typ: "JWT" }, claims, hs("sha256")), "refused"),
    // Algorithms outside the pinned HS256, with this deployment's secret.
    bearer("HS384 with the secret", forge({ alg: "HS384", typ: "JWT" }, claims, hs("sha384")), "refused"),
    bearer("HS512 with the secret", forge({ alg: "HS512", typ: "JWT" }, claims, hs("sha512")), "refused"),
    bearer("alg hs256 in lower case", forge({ alg: "hs256", typ: "JWT" }, claims, hs("sha256")), "refused"),
    // Key confusion: an asymmetric alg whose "public key" is the HMAC secret.
    ...["RS256", "RS512", "PS256", "EdDSA"].map((alg) =>
      bearer(`${alg} signed with the HMAC secret as its key`, forge({ alg }, claims, hs("sha256")), "refused"),
    ),
    bearer("ES256 signed with the HMAC secret as its key", `${esInput}${esSignature}`, "refused"),
    // Another key.
    bearer("HS256 with another deployment's secret", forge({ alg: "HS256", typ: "JWT" }, claims, hs("sha256", otherKey)), "refused"),
    bearer("HS256 with the secret plus one character", forge({ alg: "HS256" }, claims, hs("sha256", `${SECURITY_JWT_SECRET}x`)), "refused"),
    bearer(
      "HS256 with the secret less its last character",
      forge({ alg: "HS256" }, claims, hs("sha256", SECURITY_JWT_SECRET.slice(0, -1))),
      "refused",
    ),
    bearer("HS256 with an empty key", forge({ alg: "HS256" }, claims, hs("sha256", "")), "refused"),
    bearer("RS256 with the attacker's key", await rs256({}), "refused"),
    // Keys the token names for itself: never fetched, never used.
    bearer("RS256 with an embedded jwk", await rs256({ jwk: attackerJwk }), "refused"),
    bearer("RS256 with jku to the attacker", await rs256({ jku: `${capture}/jwks.json`, kid: "attacker" }), "refused"),
    bearer("RS256 with x5u to the attacker", await rs256({ x5u: `${capture}/cert.pem` }), "refused"),
    bearer(
      "HS256 another key, jku to the attacker",
      forge({ alg: "HS256", jku: `${capture}/hs-jwks.json` }, claims, hs("sha256", otherKey)),
      "refused",
    ),
    bearer(
      "kid path traversal, empty key",
      forge({ alg: "HS256", kid: "../../../../../../dev/null" }, claims, hs("sha256", "")),
      "refused",
    ),
    bearer("kid SQL injection, another key", forge({ alg: "HS256", kid: "x' UNION SELECT 'k' --" }, claims, hs("sha256", "k")), "refused"),
    bearer("kid of 2 KB, another key", forge({ alg: "HS256", kid: "k".repeat(2048) }, claims, hs("sha256", otherKey)), "refused"),
    bearer("x5c garbage chain, another key", forge({ alg: "HS256", x5c: ["MIIB", "AAAA"] }, claims, hs("sha256", otherKey)), "refused"),
    bearer(
      "crit names an unknown extension, good signature",
      forge({ alg: "HS256", crit: ["roomcast-ext"], "roomcast-ext": 1 }, claims, hs("sha256")),
      "refused",
    ),
    bearer("b64 false, good signature", forge({ alg: "HS256", b64: false, crit: ["b64"] }, claims, hs("sha256")), "refused"),
    // Claims, signed with the right key.
    bearer("no exp", forge({ alg: "HS256" }, claimsOf(alice, { exp: undefined }), hs("sha256")), "refused"),
    bearer("exp as a string", forge({ alg: "HS256" }, claimsOf(alice, { exp: String(now() + 600) }), hs("sha256")), "refused"),
    bearer("exp null", forge({ alg: "HS256" }, claimsOf(alice, { exp: null }), hs("sha256")), "refused"),
    bearer("nbf two minutes ahead", forge({ alg: "HS256" }, claimsOf(alice, { nbf: now() + 120 }), hs("sha256")), "refused"),
    bearer("no sub", forge({ alg: "HS256" }, claimsOf(alice, { sub: undefined }), hs("sha256")), "refused"),
    bearer("sub a number", forge({ alg: "HS256" }, claimsOf(alice, { sub: 7 }), hs("sha256")), "refused"),
    bearer("no name", forge({ alg: "HS256" }, claimsOf(alice, { name: undefined }), hs("sha256")), "refused"),
    bearer("name an object", forge({ alg: "HS256" }, claimsOf(alice, { name: { admin: true } }), hs("sha256")), "refused"),
    bearer("wrong iss", forge({ alg: "HS256" }, claimsOf(alice, { iss: "other" }), hs("sha256")), "refused"),
    bearer("no iss", forge({ alg: "HS256" }, claimsOf(alice, { iss: undefined }), hs("sha256")), "refused"),
    bearer("wrong aud", forge({ alg: "HS256" }, claimsOf(alice, { aud: "other" }), hs("sha256")), "refused"),
    bearer("aud a list without roomcast", forge({ alg: "HS256" }, claimsOf(alice, { aud: ["other", "x"] }), hs("sha256")), "refused"),
    bearer("no aud", forge({ alg: "HS256" }, claimsOf(alice, { aud: undefined }), hs("sha256")), "refused"),
    // Expiry around the 30 s tolerance.
    bearer(`exp ${TOLERANCE_S + 15} s ago (past the tolerance)`, await signToken(alice, { expiresIn: -(TOLERANCE_S + 15) }), "expired"),
    bearer("exp an hour ago", await signToken(alice, { expiresIn: -3600 }), "expired"),
    bearer("exp at the epoch", forge({ alg: "HS256" }, claimsOf(alice, { exp: 0 }), hs("sha256")), "expired"),
    // Oversized: a big header still gets the contract's 401 (workerd answers 431 past about 1 MB of head, measured).
    bearer("8 KB of garbage", "a".repeat(8 * 1024), "refused"),
    bearer("64 KB of garbage", `${validHead}.${"b".repeat(64 * 1024)}.x`, "refused"),
    bearer("200 KB of garbage", "c".repeat(200 * 1024), "refused"),
    // Positive controls: what must still work.
    bearer("the good token", valid, "accepted"),
    { name: "scheme in lower case", header: `bearer ${valid}`, outcome: "accepted" },
    { name: "scheme in upper case, extra spaces", header: `BEARER   ${valid}  `, outcome: "accepted" },
    bearer(`exp ${TOLERANCE_S - 15} s ago (inside the tolerance)`, await signToken(alice, { expiresIn: -(TOLERANCE_S - 15) }), "accepted"),
    bearer("nbf 10 s ahead (inside the tolerance)", await signToken(alice, { claims: { nbf: now() + 10 } }), "accepted"),
    bearer(
      "jku to the attacker on a good token: ignored, never fetched",
      await signToken(alice, { header: { jku: `${capture}/good-jwks.json` } }),
      "accepted",
    ),
  ];
  return cases;
}

it("refuses every bad token with 401 and WWW-Authenticate at every door, and accepts the good ones", async () => {
  const all = doors();
  for (const tokenCase of await tokenCases()) {
    // A refused token is a secret too (a real client's expired token): it must not be logged or reported.
    if (tokenCase.frameToken) sec.secret(`the token of case ${tokenCase.name}`, tokenCase.frameToken);
    for (const door of all) {
      await tally.check("tokens", `${tokenCase.name} at ${door.name}`, async () =>
        expectOutcome(door, await door.call(tokenCase.header), tokenCase.outcome),
      );
    }
    if (tokenCase.frameToken !== undefined) {
      await tally.check("tokens", `${tokenCase.name} in an auth frame`, () =>
        authFrame(tokenCase.frameToken ?? undefined, tokenCase.outcome),
      );
      if (tokenCase.outcome === "accepted") await renewFrameSocket();
    }
  }
  // The operator routes take bearer secrets of their own, not user tokens.
  for (const [name, path, method] of [
    ["POST /internal/drain", "/internal/drain", "POST"],
    ["GET /metrics", "/metrics", "GET"],
  ] as const) {
    for (const [what, header] of [
      ["no header", null],
      ["a user's good token", `Bearer ${alice.token}`],
      ["garbage", "Bearer not-the-operator-secret"],
      ["alg none", `Bearer ${forge({ alg: "none" }, claimsOf(alice), "")}`],
      [
        "the operator secret's prefix",
        `Bearer ${(sec.secrets.get(path === "/metrics" ? "METRICS_TOKEN" : "DRAIN_TOKEN") ?? "").slice(0, -1)}`,
      ],
    ] as const) {
      await tally.check("tokens", `${what} at ${name}`, async () =>
        expect401(await sec.request(path, { method, headers: header === null ? {} : { Authorization: header } }), ["unauthorized"]),
      );
    }
  }
  // A good token of another user cannot take over a socket.
  await tally.check("tokens", "another user's good token in an auth frame: refused, the socket stays its user's", async () => {
    await authFrame(bob.token, "refused");
    const acks = frameSocket.ofType("ack").length;
    frameSocket.sendJson({ type: "send", clientMsgId: unique("after-auth"), body: "still alice" });
    await frameSocket.until(() => frameSocket.ofType("ack").length > acks, "the ack");
    expect(frameSocket.ofType("message").at(-1)).toMatchObject({ userId: alice.id, username: alice.username });
  });
  // None of the keys a token named was fetched.
  await tally.check("tokens", "no jku or x5u fetched", () => {
    const fetched = sec.capture.requests.filter((r) => !r.includes("/api/"));
    expect(fetched).toEqual([]);
  });
  tally.expectClean("tokens");
});

/** One random edit of a token. */
type Edit =
  | { kind: "replace"; at: number; text: string }
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "truncate"; at: number }
  | { kind: "swap"; a: number; b: number };

/** Same token, or a different spelling of the same signature (non-canonical base64url, which a decoder may accept). */
function sameToken(original: string, mutated: string): boolean {
  if (original === mutated) return true;
  const a = original.split(".");
  const b = mutated.split(".");
  if (b.length !== 3 || a[0] !== b[0] || a[1] !== b[1] || !/^[A-Za-z0-9_-]*$/.test(b[2] ?? "")) return false;
  return Buffer.from(a[2] ?? "", "base64url").equals(Buffer.from(b[2] ?? "", "base64url"));
}

it("refuses a good token with any one character changed, at every door (every position, then random edits by fast-check)", async () => {
  const all = doors();
  const token = await signToken(alice, { expiresIn: 3600 });
  let equivalent = 0;
  let equivalentAccepted = 0;
  /** One mutated token at one door: 401 unless it spells the same token. */
  const attempt = async (mutated: string, index: number, what: string) => {
    const same = sameToken(token, mutated);
    if (same && mutated !== token) equivalent++;
    const doorIndex = index % (all.length + 1);
    const door = all[doorIndex];
    return tally.check("tokens", `${what} at ${door?.name ?? "the auth frame"}`, async () => {
      if (!door) {
        if (same) return authFrame(mutated, "accepted");
        return authFrame(mutated, "refused");
      }
      const answer = await door.call(`Bearer ${mutated}`);
      if (same) {
        if (answer.status >= 500) throw new Error(`${answer.status}`);
        if (answer.status === door.ok && mutated !== token) equivalentAccepted++;
        return;
      }
      expectOutcome(door, answer, "refused");
    });
  };
  // Every position: one bit flipped, then the next letter of the alphabet.
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  for (let i = 0; i < token.length; i++) {
    const c = token[i] ?? "";
    const flipped = String.fromCharCode(c.charCodeAt(0) ^ 1);
    const next = alphabet[(alphabet.indexOf(c) + 1) % alphabet.length] ?? "A";
    await attempt(token.slice(0, i) + flipped + token.slice(i + 1), i, `bit 0 of position ${i} flipped`);
    await attempt(token.slice(0, i) + next + token.slice(i + 1), i + 3, `position ${i} set to ${next}`);
  }
  // Random edits: replace, insert, delete, truncate, swap the parts.
  const printable = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), text: printable }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: fc.string({ unit: printable, minLength: 1, maxLength: 6 }) }),
    fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
    fc.record({ kind: fc.constant("swap" as const), a: fc.integer({ min: 0, max: 2 }), b: fc.integer({ min: 0, max: 2 }) }),
  );
  const apply = (text: string, e: Edit): string => {
    const at = "at" in e ? e.at % (text.length + 1) : 0;
    switch (e.kind) {
      case "replace":
        return text.slice(0, at) + e.text + text.slice(at + 1);
      case "insert":
        return text.slice(0, at) + e.text + text.slice(at);
      case "delete":
        return text.slice(0, at) + text.slice(at + e.length);
      case "truncate":
        return text.slice(0, at);
      case "swap": {
        const parts = text.split(".");
        const x = parts[e.a] ?? "";
        parts[e.a] = parts[e.b] ?? "";
        parts[e.b] = x;
        return parts.join(".");
      }
    }
  };
  let run = 0;
  console.log(`security: tokens: fast-check seed ${SEED}`);
  await fc.assert(
    fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async (edits) => {
      const mutated = edits.reduce((text, e) => apply(text, e), token).trim() || "x";
      return attempt(mutated, run++, `edits ${JSON.stringify(edits)}`);
    }),
    { seed: SEED, numRuns: 300, endOnFailure: true },
  );
  console.log(
    `security: tokens: ${equivalent} edits spelled the same signature differently (non-canonical base64url); ${equivalentAccepted} of them were accepted`,
  );
  tally.expectClean("tokens");
});

it("tickets: single use, 30 s, per user not per room, spent by a refused room, not consumed by a refused header", async () => {
  const ticketOf = async (user: TestUser) => {
    const answer = await sec.request("/auth/ticket", { method: "POST", token: user.token });
    expect(answer.status).toBe(200);
    return sec.secret(`a ticket of ${user.username}`, (answer.json as { ticket: string }).ticket);
  };
  const open = (room: string, ticket: string, headers: Record<string, string> = {}) =>
    sec.upgrade(`/rooms/${room}/ws?ticket=${encodeURIComponent(ticket)}`, headers);
  const refusedWith = async (status: number, attempt: ReturnType<typeof open>) => {
    const result = await attempt;
    if (result.ok) {
      result.socket.destroy();
      throw new Error("the upgrade was accepted");
    }
    if (status === 401) expect401({ ...result.answer, json: safeJson(result.answer.body) }, ["unauthorized"]);
    else expect(result.answer.status).toBe(status);
  };
  const accepted = async (attempt: ReturnType<typeof open>, user: TestUser) => {
    const result = await attempt;
    if (!result.ok) throw new Error(`refused: ${result.answer.status} ${result.answer.body}`);
    const [welcome] = await result.socket.waitType("welcome");
    expect(welcome?.user).toEqual({ id: user.id, username: user.username });
    result.socket.destroy();
  };
  const check = (name: string, run: () => Promise<void>) => tally.check("tickets", name, run);

  await check("a ticket opens one socket, as its own user", async () => {
    const ticket = await ticketOf(bob);
    await accepted(open(publicRoom, ticket), bob);
    await refusedWith(401, open(publicRoom, ticket));
  });
  await check("one ticket, ten upgrades at once: exactly one opens", async () => {
    const ticket = await ticketOf(bob);
    const results = await Promise.all(Array.from({ length: 10 }, () => open(publicRoom, ticket)));
    for (const r of results) if (r.ok) r.socket.destroy();
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => r.answer.status)).toEqual(new Array(9).fill(401));
  });
  await check("a ticket of a user for a private room the user may not see: 404, and the ticket is spent", async () => {
    const ticket = await ticketOf(bob);
    const outsider = await sec.room(alice, "private", "secret");
    await refusedWith(404, open(outsider, ticket));
    await refusedWith(401, open(publicRoom, ticket));
  });
  await check("a ticket is per user, not per room: the same user's ticket opens another room", async () => {
    const ticket = await ticketOf(alice);
    await accepted(open(privateRoom, ticket), alice);
  });
  await check("an expired ticket is refused", async () => {
    const ticket = await ticketOf(bob);
    const sql = createSql(sec.databaseUrl);
    try {
      const hash = createHash("sha256").update(ticket).digest("hex");
      const rows = await sql`UPDATE ws_tickets SET expires_at = now() - interval '1 second' WHERE ticket_hash = ${hash} RETURNING user_id`;
      expect(rows).toHaveLength(1);
      // Only its hash is stored.
      expect(await sql`SELECT 1 FROM ws_tickets WHERE ticket_hash = ${ticket}`).toHaveLength(0);
    } finally {
      await sql.end({ timeout: 2 });
    }
    await refusedWith(401, open(publicRoom, ticket));
  });
  await check("a ticket just inside its 30 s opens", async () => {
    const ticket = await ticketOf(bob);
    const sql = createSql(sec.databaseUrl);
    try {
      const hash = createHash("sha256").update(ticket).digest("hex");
      await sql`UPDATE ws_tickets SET expires_at = now() + interval '2 seconds' WHERE ticket_hash = ${hash}`;
    } finally {
      await sql.end({ timeout: 2 });
    }
    await accepted(open(publicRoom, ticket), bob);
  });
  await check("a bad Bearer header decides: 401, and the ticket is not consumed", async () => {
    const ticket = await ticketOf(bob);
    await refusedWith(401, open(publicRoom, ticket, { Authorization: "Bearer not-a-token" }));
    await accepted(open(publicRoom, ticket), bob);
  });
  await check("a foreign Origin is refused before the ticket is consumed", async () => {
    const ticket = await ticketOf(bob);
    await refusedWith(403, open(publicRoom, ticket, { Origin: "http://evil.example" }));
    await accepted(open(publicRoom, ticket), bob);
  });
  await check("a ticket is not a token, and a token is not a ticket", async () => {
    const ticket = await ticketOf(bob);
    const me = await sec.request("/auth/me", { token: ticket });
    expect401(me, ["unauthorized"]);
    await refusedWith(401, open(publicRoom, bob.token));
    await accepted(open(publicRoom, ticket), bob);
  });
  for (const [name, ticket, status] of [
    ["an unknown ticket", "A".repeat(43), 401],
    ["a ticket of one character", "x", 401],
    ["a ticket of 128 characters", "t".repeat(128), 401],
    // 400 while the query was checked before authentication, 401 since the query comes after the room (either refuses).
    ["a ticket of 129 characters (longer than any ticket)", "t".repeat(129), 0],
    ["a ticket with SQL in it", "' OR '1'='1", 401],
  ] as const) {
    await check(name, async () => {
      if (status !== 0) return refusedWith(status, open(publicRoom, ticket));
      const result = await open(publicRoom, ticket);
      if (result.ok) result.socket.destroy();
      expect([400, 401]).toContain(result.answer.status);
    });
  }
  tally.expectClean("tickets");
});

it("leaks no token, ticket, password, secret or database URL to logs, metrics, Sentry or error answers", async () => {
  await tally.check("secrets", "tokens file: nothing leaked", async () => expect(await sec.leaks()).toEqual([]));
  tally.expectClean("secrets");
});
