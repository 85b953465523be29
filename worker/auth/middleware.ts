import { createMiddleware } from "hono/factory";
import { configOf, type AppContext, type AppEnv } from "../context.ts";
import { ApiError } from "../errors.ts";
import { countTokenCheck, metrics } from "../../metrics-bridge/registry.ts";
import { signingKey, verifyToken, type TokenIdentity } from "../../core/tokens.ts";

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Verifies an access token, answering 401 `token_expired` or `unauthorized` when it fails. */
export async function verifyBearer(c: AppContext, token: string): Promise<TokenIdentity> {
  const config = configOf(c);
  const started = performance.now();
  const verified = await verifyToken(token, signingKey(c.env, config), config);
  countTokenCheck(verified, started);
  if (verified.ok) return verified.identity;
  throw verified.reason === "expired" ? new ApiError("token_expired", "token expired") : new ApiError("unauthorized", "invalid token");
}

/** Requires a valid access token; sets `user` and `tokenExp`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) {
    metrics.authRequests.inc({ result: "failure", reason: "missing_token" });
    throw new ApiError("unauthorized", "missing bearer token");
  }
  const identity = await verifyBearer(c, token);
  c.set("user", identity.user);
  c.set("tokenExp", identity.exp);
  await next();
});
