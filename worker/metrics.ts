import { Hono } from "hono";
import { scrape } from "../metrics-bridge/scrape.ts";
import { bearerMatches } from "./auth/shared-secret.ts";
import { configOf, type AppEnv } from "./context.ts";
import { ApiError } from "./errors.ts";

/**
 * `GET /metrics` on the public listener (wrangler dev, Cloudflare): the same
 * exposition as the self-hosted metrics socket, behind
 * `Authorization: Bearer $METRICS_TOKEN`. Disabled (404) while unset.
 */
export const metricsRoutes = new Hono<AppEnv>().get("/", async (c) => {
  const expected = configOf(c).metricsToken;
  if (!expected) throw new ApiError("not_found", "no such route");
  if (!bearerMatches(c.req.header("Authorization"), expected)) throw new ApiError("unauthorized", "metrics token required");
  const { body, contentType } = await scrape(c.env, configOf(c), c.req.header("Accept"));
  return c.body(body, 200, { "Content-Type": contentType });
});
