// Limits on opening room sockets, checked by the Worker before the upgrade
// reaches a room: open sockets per user (MAX_SOCKETS_PER_USER), from the
// isolate's socket counts (durable-objects/room/capacity.ts), a Map lookup
// per upgrade. Self-hosted, one process runs one isolate, so the cap holds
// per process; on Cloudflare the rooms run in other isolates and only the
// room's own check counts (docs/decisions.md).
import { userSockets } from "../../durable-objects/room/capacity.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { configOf, type AppContext } from "../context.ts";
import { ApiError } from "../errors.ts";

/** After authentication: room for one more of the user's sockets. */
export function limitUserUpgrades(c: AppContext, userId: string): void {
  const config = configOf(c);
  if (config.maxSocketsPerUser > 0 && userSockets(userId) >= config.maxSocketsPerUser) {
    metrics.rateLimited.inc({ limit: "sockets_per_user" });
    throw new ApiError("rate_limited", `at most ${config.maxSocketsPerUser} open sockets per user; close one first`);
  }
}
