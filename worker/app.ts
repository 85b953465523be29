import { Hono } from "hono";
import { authRoutes } from "./auth/routes.ts";
import { readConfig } from "../core/config.ts";
import { closeDatabase, type AppEnv } from "./context.ts";
import { errorResponse } from "../protocol/index.ts";
import { handleError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { internalRoutes } from "./internal.ts";
import { metricsRoutes } from "./metrics.ts";
import { pageRoutes } from "./page.ts";
import { roomRoutes } from "./rooms/routes.ts";
import { secureHeaders } from "./secure-headers.ts";
import { metrics } from "../metrics-bridge/registry.ts";
import { scheduleReport } from "../metrics-bridge/report.ts";
import { logDebug, logEvent, requestIdOf } from "../core/log.ts";

/** A request slower than this is logged at LOG_LEVEL=info too. */
const SLOW_REQUEST_MS = 1000;

/** The HTTP API of CONTRACT.md v1, and the chat page (worker/page.ts). */
export const app = new Hono<AppEnv>()
  // First, so that it wraps every answer, errors and a malformed config's 500 included.
  .use(secureHeaders)
  .use(async (c, next) => {
    const config = readConfig(c.env);
    c.set("config", config);
    const requestId = requestIdOf(c.req.header("X-Request-Id"));
    c.set("requestId", requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      closeDatabase(c);
      // The route pattern, never the path: room ids stay out of labels.
      const route = c.req.routePath === "/*" ? "unmatched" : c.req.routePath;
      const method = c.req.method;
      metrics.httpRequests.inc({ route, method, status: String(c.res.status) });
      const seconds = (performance.now() - started) / 1000;
      metrics.httpDuration.observe({ route, method }, seconds);
      scheduleReport(c.env, (promise) => c.executionCtx.waitUntil(promise));
      // A 101 keeps its headers as the room set them.
      if (c.res.status !== 101) c.res.headers.set("X-Request-Id", requestId);
      // Errors and slow requests always; the rest at LOG_LEVEL=debug.
      const status = c.res.status;
      const ms = Math.round(seconds * 1000);
      const line = { requestId, method, route, path: new URL(c.req.url).pathname, status, ms };
      if (status >= 400 || ms >= SLOW_REQUEST_MS) logEvent("request", line);
      else logDebug(config, "request", line);
    }
  })
  .route("/", healthRoutes)
  .route("/auth", authRoutes)
  .route("/rooms", roomRoutes)
  .route("/internal", internalRoutes)
  .route("/metrics", metricsRoutes)
  .route("/", pageRoutes)
  .notFound(() => errorResponse("not_found", "no such route"))
  .onError(handleError);
