import { Hono } from "hono";
import { withTimeout } from "../sql/db.ts";
import { database, type AppEnv } from "./context.ts";
import { errorResponse } from "../protocol/index.ts";

const READY_TIMEOUT_MS = 2000;

/** `/healthz` (the process answers) and `/readyz` (PostgreSQL answers too). */
export const healthRoutes = new Hono<AppEnv>()
  .get("/healthz", (c) => c.json({ status: "ok" }))
  .get("/readyz", async (c) => {
    try {
      await withTimeout((await database(c)).ping(), READY_TIMEOUT_MS, "readiness ping");
      return c.json({ status: "ok" });
    } catch {
      return errorResponse("database_unavailable", "database did not answer");
    }
  });
