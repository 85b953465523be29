import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../context.ts";
import { configOf } from "../context.ts";
import { ApiError } from "../errors.ts";
import { signingKey, verifyToken } from "./jwt.ts";

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Requires a valid access token; sets `user` and `tokenExp`. */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) throw new ApiError("unauthorized", "missing bearer token");
  const config = configOf(c);
  const verified = await verifyToken(token, signingKey(c.env, config), config);
  if (!verified.ok) {
    throw verified.reason === "expired"
      ? new ApiError("token_expired", "token expired")
      : new ApiError("unauthorized", "invalid token");
  }
  c.set("user", verified.identity.user);
  c.set("tokenExp", verified.identity.exp);
  await next();
});
