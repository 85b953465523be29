import { Hono } from "hono";
import { authRoutes } from "./auth/routes.ts";
import { readConfig } from "./config.ts";
import { closeDatabase, type AppEnv } from "./context.ts";
import { errorResponse, handleError } from "./errors.ts";
import { healthRoutes } from "./health.ts";
import { internalRoutes } from "./internal.ts";
import { roomRoutes } from "./rooms/routes.ts";

/** The HTTP API of CONTRACT.md v1. */
export const app = new Hono<AppEnv>()
  .use(async (c, next) => {
    c.set("config", readConfig(c.env));
    try {
      await next();
    } finally {
      closeDatabase(c);
    }
  })
  .route("/", healthRoutes)
  .route("/auth", authRoutes)
  .route("/rooms", roomRoutes)
  .route("/internal", internalRoutes)
  .notFound(() => errorResponse("not_found", "no such route"))
  .onError(handleError);
