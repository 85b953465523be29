import { app } from "./app.ts";

export { ChatRoom } from "../durable-objects/room/chat-room.ts";
export { Database } from "../durable-objects/database/database.ts";
export { Limiter } from "../durable-objects/limiter/limiter.ts";
export { Stats } from "../durable-objects/stats/stats.ts";
// Bound to its own socket by the self-hosted build (scripts/workerd-config.ts).
export { MetricsEntrypoint } from "../metrics-bridge/entrypoint.ts";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
