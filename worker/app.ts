import { Hono } from "hono";
import { authRoutes } from "./auth/routes.ts";
import { readConfig } from "./config.ts";
import { closeDatabase, type AppEnv } from "./context.ts";
import { errorResponse, handleError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { internalRoutes } from "./internal.ts";
import { metricsRoutes } from "./metrics.ts";
import { roomRoutes } from "./rooms/routes.ts";
import { metrics } from "../metrics-bridge/registry.ts";

/** The HTTP API of CONTRACT.md v1. */
export const app = new Hono<AppEnv>()
  .use(async (c, next) => {
    c.set("config", readConfig(c.env));
    const started = performance.now();
    try {
      await next();
    } finally {
      closeDatabase(c);
      // The route pattern, never the path: room ids stay out of labels.
      const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
      const method = c.req.method;
      metrics.httpRequests.inc({ route, method, status: String(c.res.status) });
      metrics.httpDuration.observe({ route, method }, (performance.now() - started) / 1000);
    }
  })
  .route("/", healthRoutes)
  .route("/auth", authRoutes)
  .route("/rooms", roomRoutes)
  .route("/internal", internalRoutes)
  .route("/metrics", metricsRoutes)
  .notFound(() => errorResponse("not_found", "no such route"))
  .onError(handleError);
