import { errors, jwtVerify, SignJWT } from "jose";
import type { User } from "../protocol/index.ts";
import type { Config } from "./config.ts";

const ALGORITHMS = ["HS256"];
const CLOCK_TOLERANCE_SECONDS = 30;
const encoder = new TextEncoder();

// Per-isolate development secret, made once when JWT_SECRET is unset outside
// production. Tokens signed with it die with the process; that is the point.
let devSecret: Uint8Array | undefined;
// Per-isolate caches of the secret's bytes and of its imported HMAC key:
// jose imports a raw key anew on every call, which a profile of the seed
// load showed among the hottest functions of an upgrade.
const secretBytes = new Map<string, Uint8Array>();
const hmacKeys = new WeakMap<Uint8Array, Promise<CryptoKey>>();
// Per-isolate cache of tokens whose signature and claims were verified with a
// key, by the whole token string (signature included): a client reconnects
// with the same token again and again (the seed loop every 45 s), and
// jose's verify was the largest single item of an upgrade's CPU in a profile.
// A hit still checks the expiry. Bounded: the oldest entry goes first.
const verified = new WeakMap<Uint8Array, Map<string, TokenIdentity>>();
const VERIFIED_MAX = 10_000;

/** The HMAC key for `bytes`, imported once per isolate. */
function hmacKey(bytes: Uint8Array): Promise<CryptoKey> {
  let key = hmacKeys.get(bytes);
  if (!key) {
    key = crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(bytes, key);
  }
  return key;
}

/** Resolves the signing key; throws in production when JWT_SECRET is missing or short. */
export function signingKey(env: { JWT_SECRET?: string }, config: Config): Uint8Array {
  const secret = env.JWT_SECRET?.trim();
  if (secret) {
    if (config.environment === "production" && secret.length < 32) {
      throw new Error("JWT_SECRET must be at least 32 characters in production");
    }
    let bytes = secretBytes.get(secret);
    if (!bytes) {
      bytes = encoder.encode(secret);
      secretBytes.set(secret, bytes);
    }
    return bytes;
  }
  if (config.environment === "production") throw new Error("JWT_SECRET is not set");
  if (!devSecret) {
    devSecret = crypto.getRandomValues(new Uint8Array(32));
    console.warn(
      "roomcast: JWT_SECRET is not set; using a random development secret. " +
        "Tokens stop working when the process restarts. Set JWT_SECRET in .dev.vars.",
    );
  }
  return devSecret;
}

/** The identity a verified token carries. */
export interface TokenIdentity {
  user: User;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

/** Issues an access token for a user. */
export async function issueToken(user: User, key: Uint8Array, config: Config): Promise<{ token: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + config.tokenTtlSeconds;
  const token = await new SignJWT({ name: user.username })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id)
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience)
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(await hmacKey(key));
  return { token, expiresAt: new Date(exp * 1000) };
}

/** Why a token was refused; bounded, so it can become a metric label. */
export type TokenFailure = "expired" | "invalid";

/** What {@link verifyToken} answers. */
export type TokenCheck = { ok: true; identity: TokenIdentity } | { ok: false; reason: TokenFailure };

/** Verifies a token: HS256 only, `exp` required, issuer and audience checked, 30 s tolerance. */
export function verifyToken(token: string, key: Uint8Array, config: Config): Promise<TokenCheck> {
  return verifyJwt(token, key, config);
}

async function verifyJwt(token: string, key: Uint8Array, config: Config): Promise<TokenCheck> {
  let cache = verified.get(key);
  if (!cache) {
    cache = new Map();
    verified.set(key, cache);
  }
  const known = cache.get(token);
  if (known) {
    if (Date.now() / 1000 - CLOCK_TOLERANCE_SECONDS < known.exp) return { ok: true, identity: known };
    cache.delete(token);
    return { ok: false, reason: "expired" };
  }
  const result = await verifyUncached(token, key, config);
  if (result.ok) {
    if (cache.size >= VERIFIED_MAX) cache.delete(cache.keys().next().value ?? "");
    cache.set(token, result.identity);
  }
  return result;
}

async function verifyUncached(token: string, key: Uint8Array, config: Config): Promise<TokenCheck> {
  try {
    const { payload } = await jwtVerify(token, await hmacKey(key), {
      algorithms: ALGORITHMS,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["exp", "sub"],
    });
    const { sub, name, exp } = payload;
    if (typeof sub !== "string" || typeof name !== "string" || typeof exp !== "number") {
      return { ok: false, reason: "invalid" };
    }
    return { ok: true, identity: { user: { id: sub, username: name }, exp } };
  } catch (error) {
    return { ok: false, reason: error instanceof errors.JWTExpired ? "expired" : "invalid" };
  }
}
