// Every metric of roomcast: name, help, type and label set, in one place
// (prom-client's registry, which runs in workerd under nodejs_compat).
// Names follow the origin service's dashboards: websocket_connections,
// messages_sent_total, auth_requests_total; rpc_calls_total stands in for
// its grpc_calls_total. No label ever holds a room id or a user id.
//
// The registry is module state of the isolate: each isolate counts itself
// and reports to the Stats object (report.ts), which sums every isolate's
// counters and histograms and computes the three room gauges
// (websocket_connections, rooms_active, outbox_pending_messages) from the
// rooms' own reports. A scrape renders that sum (scrape.ts).
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import pkg from "../package.json" with { type: "json" };
import type { TokenCheck } from "../core/tokens.ts";

// Text format 0.0.4 only. prom-client can write OpenMetrics, but a
// registry's format is its own mutable state (concurrent scrapes would
// switch it), and a counter registered in an OpenMetrics registry loses its
// `_total` in the text format too (docs/decisions.md).
export const registry = new Registry();
const registers = [registry];

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const metrics = {
  websocketConnections: new Gauge({
    name: "websocket_connections",
    help: "Open room WebSockets, by room type (from the rooms' reports).",
    labelNames: ["room_type"] as const,
    registers,
  }),
  roomsActive: new Gauge({
    name: "rooms_active",
    help: "Rooms with at least one open WebSocket (from the rooms' reports).",
    registers,
  }),
  messagesSent: new Counter({
    name: "messages_sent_total",
    help: "Messages stored with a new seq (acknowledged), by room type.",
    labelNames: ["room_type"] as const,
    registers,
  }),
  messagesDelivered: new Counter({
    name: "messages_delivered_total",
    help: "Message frames written to room sockets (broadcast and replay), by room type.",
    labelNames: ["room_type"] as const,
    registers,
  }),
  messageProcessing: new Histogram({
    name: "message_processing_seconds",
    help: "From a send frame received to its broadcast done (includes the PostgreSQL commit in multi-process mode).",
    buckets: LATENCY_BUCKETS,
    registers,
  }),
  authRequests: new Counter({
    name: "auth_requests_total",
    help: "Authentication attempts: logins, bearer tokens and tickets, by result and a bounded reason.",
    labelNames: ["result", "reason"] as const,
    registers,
  }),
  authValidate: new Histogram({
    name: "auth_validate_seconds",
    help: "Time to validate a JWT.",
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05],
    registers,
  }),
  httpRequests: new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered by the Worker, by route pattern, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers,
  }),
  httpDuration: new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration in the Worker, by route pattern and method.",
    labelNames: ["route", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  }),
  websocketCloses: new Counter({
    name: "websocket_closes_total",
    help: "Room WebSockets closed, by close code.",
    labelNames: ["code"] as const,
    registers,
  }),
  outboxPending: new Gauge({
    name: "outbox_pending_messages",
    help: "Messages waiting in room outboxes for PostgreSQL, as the rooms last reported.",
    registers,
  }),
  outboxFlush: new Counter({
    name: "outbox_flush_total",
    help: "Outbox copies to PostgreSQL, by result.",
    labelNames: ["result"] as const,
    registers,
  }),
  rateLimited: new Counter({
    name: "ratelimited_total",
    help: "Requests and frames refused by a limit: the per-user message budget of a room (message), upgrades per user (upgrade_user) or per address (upgrade_address), sockets per user (sockets_per_user).",
    labelNames: ["limit"] as const,
    registers,
  }),
  rpcCalls: new Counter({
    name: "rpc_calls_total",
    help: "Calls from the Worker to room objects, by target, method and result code.",
    labelNames: ["target", "method", "code"] as const,
    registers,
  }),
  databaseBatches: new Counter({
    name: "database_batches_total",
    help: "Statements the process's database service ran for rooms (copy, head, commit), by kind and result.",
    labelNames: ["kind", "result"] as const,
    registers,
  }),
  databaseBatchSize: new Histogram({
    name: "database_batch_items",
    help: "Rooms' requests one statement of the database service carried (group commit), by kind.",
    labelNames: ["kind"] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers,
  }),
  databaseBatchSeconds: new Histogram({
    name: "database_batch_seconds",
    help: "Duration of one statement of the database service, by kind.",
    labelNames: ["kind"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  }),
  databaseUp: new Gauge({
    name: "database_up",
    help: "1 when PostgreSQL answered the last scrape's probe within 2 s, else 0.",
    registers,
  }),
  connectionsLimit: new Gauge({
    name: "websocket_connections_limit",
    help: "MAX_CONNECTIONS of this process (0: no limit).",
    registers,
  }),
  buildInfo: new Gauge({
    name: "roomcast_build_info",
    help: "Build of the running process (value 1).",
    labelNames: ["version"] as const,
    registers,
  }),
};

/** The limits `ratelimited_total` counts by; each starts at 0, so that its series (and the dashboard's panel) exist before the first refusal. */
export const RATE_LIMIT_LABELS = ["message", "upgrade_user", "upgrade_address", "sockets_per_user"] as const;
for (const limit of RATE_LIMIT_LABELS) metrics.rateLimited.inc({ limit }, 0);
metrics.buildInfo.set({ version: pkg.version }, 1);

/** Counts one token verification begun at `startedMs` (a `performance.now()` reading): its time and its result. */
export function countTokenCheck(check: TokenCheck, startedMs: number): void {
  metrics.authValidate.observe((performance.now() - startedMs) / 1000);
  metrics.authRequests.inc(check.ok ? { result: "success", reason: "token" } : { result: "failure", reason: `token_${check.reason}` });
}
