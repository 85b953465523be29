// The result of one run: what runScenario returns, what the JSON file holds
// and what the summary box and the HTML report show. Also the TARGETS checks.
import type { LatencySummary } from "./histogram.ts";
import type { Scenario } from "./scenario.ts";
import type { ServerProcess } from "./server-probe.ts";

/** One step of the fanout scenario (one attempt at one rate). */
export interface FanoutStep {
  /** 1 for the first rate, 2 for the next (rate × factor)…; 0 for the unrecorded warm-up step. */
  step: number;
  /** 1, or 2 for the repeat of a step whose first attempt was over the limit. */
  attempt: number;
  /** Messages per second asked for (all rooms). */
  rate: number;
  /** Seconds measured (the step's first second is left out as warm-up). */
  seconds: number;
  sentPerSecond: number;
  deliveriesPerSecond: number;
  errors: number;
  e2e: LatencySummary;
  /** p99 at or under the scenario's limit. */
  withinLimit: boolean;
}

/** One second of the run. */
export interface TimelinePoint {
  t: number;
  vus: number;
  sockets: number;
  connects: number;
  sent: number;
  received: number;
  errors: number;
  lost: number;
  e2eP50: number;
  e2eP95: number;
  e2eP99: number;
  e2eMax: number;
  connectP99: number;
  serverCpuPct: number | null;
  serverRssMB: number | null;
  clientCpuPct: number | null;
  /** The busiest client worker's event loop, % busy. */
  clientLoopPct: number;
}

/** One line of the TARGETS section; `pass` is null when the value was not measured. */
export interface Check {
  name: string;
  target: string;
  actual: string;
  pass: boolean | null;
}

/** Everything one run measured. */
export interface Result {
  tool: "roomcast-loadtest";
  version: 1;
  scenario: Scenario;
  targets: string[];
  startedAt: string;
  endedAt: string;
  /** From the start of the stages to the end of the drain. */
  durationSeconds: number;
  setup: { users: number; rooms: number; seconds: number; registered: boolean };
  connections: {
    peakSockets: number;
    peakVus: number;
    connects: number;
    connectFailures: number;
    unexpectedCloses: number;
    closeTimeouts: number;
  };
  http: { requests: number; failures: number; statuses: Record<string, number>; perSecond: number; latency: LatencySummary };
  messages: {
    sent: number;
    acked: number;
    received: number;
    perSecond: number;
    deliveriesPerSecond: number;
    peakDeliveriesPerSecond: number;
    lost: number;
    duplicates: number;
    unackedAtEnd: number;
  };
  errors: { total: number; byKind: Record<string, number> };
  latency: {
    connect: LatencySummary;
    e2e: LatencySummary;
    ack: LatencySummary;
    /** From the server's auth_validate_seconds (bucket interpolation); null without --metrics-url. */
    auth: { count: number; avg: number; p50: number; p95: number; p99: number } | null;
  };
  server: {
    processes: ServerProcess[];
    cpuAvgPct: number;
    cpuMaxPct: number;
    rssBaselineMB: number;
    rssMaxMB: number;
    /** (largest RSS − RSS before the first socket) / peak sockets. */
    memoryPerSocketKB: number | null;
  } | null;
  client: {
    workers: number;
    cores: number;
    cpuAvgPct: number;
    cpuMaxPct: number;
    /** The busiest worker event loop of the busiest second, % busy. */
    loopMaxPct: number;
    /** Seconds in which a worker's event loop was over 90 % busy (the client, not the server, may be the limit). */
    loopSaturatedSeconds: number;
    openFileLimit: number | null;
  };
  fanout: {
    limitMs: number;
    /** The first rate run once before the steps when asked (RunOptions.fanoutWarmup); not in `steps` or the best. */
    warmup: FanoutStep | null;
    /** Every attempt, repeats included, in order. */
    steps: FanoutStep[];
    /** The highest deliveries/s of an attempt within the limit (a repeat that passed counts). */
    bestDeliveriesPerSecond: number | null;
  } | null;
  timeline: TimelinePoint[];
  checks: Check[];
  notes: string[];
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`;

/** Compares a result with the scenario's targets. */
export function evaluate(result: Omit<Result, "checks">): Check[] {
  const t = result.scenario.targets;
  const checks: Check[] = [];
  const add = (name: string, target: string, actual: string, pass: boolean | null) => checks.push({ name, target, actual, pass });
  if (t.sockets !== undefined) {
    // Sockets that are between a close and the next welcome are not "held".
    const floor = Math.floor(t.sockets * 0.99);
    add("sockets held", `≥ ${int(floor)} (99%)`, int(result.connections.peakSockets), result.connections.peakSockets >= floor);
  }
  if (t.errors !== undefined) add("errors", `≤ ${int(t.errors)}`, int(result.errors.total), result.errors.total <= t.errors);
  if (t.lost !== undefined) add("lost messages", `≤ ${int(t.lost)}`, int(result.messages.lost), result.messages.lost <= t.lost);
  const e2e = result.latency.e2e;
  const measured = e2e.count > 0;
  if (t.e2eAvgMs !== undefined)
    add("e2e avg", `≤ ${ms(t.e2eAvgMs)}`, measured ? ms(e2e.avg) : "n/a", measured ? e2e.avg <= t.e2eAvgMs : null);
  if (t.e2eP99Ms !== undefined)
    add("e2e p99", `≤ ${ms(t.e2eP99Ms)}`, measured ? ms(e2e.p99) : "n/a", measured ? e2e.p99 <= t.e2eP99Ms : null);
  if (t.authP99Ms !== undefined) {
    const auth = result.latency.auth;
    const known = auth !== null && auth.count > 0;
    add("JWT validation p99", `≤ ${ms(t.authP99Ms)}`, known ? ms(auth.p99) : "n/a", known ? auth.p99 <= t.authP99Ms : null);
  }
  if (t.connectP99Ms !== undefined) {
    const c = result.latency.connect;
    add("connect p99", `≤ ${ms(t.connectP99Ms)}`, c.count ? ms(c.p99) : "n/a", c.count ? c.p99 <= t.connectP99Ms : null);
  }
  if (t.memoryPerSocketKB !== undefined) {
    const kb = result.server?.memoryPerSocketKB ?? null;
    add(
      "memory per socket",
      `≤ ${t.memoryPerSocketKB} KB`,
      kb === null ? "n/a" : `${kb.toFixed(1)} KB`,
      kb === null ? null : kb <= t.memoryPerSocketKB,
    );
  }
  if (t.deliveriesPerSecond !== undefined) {
    const best = result.fanout?.bestDeliveriesPerSecond ?? null;
    add(
      "best deliveries/s",
      `≥ ${int(t.deliveriesPerSecond)}`,
      best === null ? "n/a" : int(best),
      best === null ? null : best >= t.deliveriesPerSecond,
    );
  }
  return checks;
}
