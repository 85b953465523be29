import { describe, expect, it } from "vitest";
import { loadScenario } from "./scenario.ts";
import { summaryBox } from "./report.ts";
import { renderHtml } from "./report-html.ts";
import { evaluate, type Result } from "./result.ts";
import { histogramDelta, promQuantile } from "./server-probe.ts";

const latency = { count: 10, avg: 1.2, p50: 1, p95: 2.5, p99: 3.5, max: 4 };

async function sample(): Promise<Result> {
  const scenario = await loadScenario("seed");
  const partial: Omit<Result, "checks"> = {
    tool: "roomcast-loadtest",
    version: 1,
    scenario,
    targets: ["http://127.0.0.1:8787"],
    startedAt: "2026-11-27T00:00:00.000Z",
    endedAt: "2026-11-27T00:06:00.000Z",
    durationSeconds: 366,
    setup: { users: 10_000, rooms: 5000, seconds: 120, registered: false },
    connections: { peakSockets: 9992, peakVus: 10_000, connects: 42_494, connectFailures: 0, unexpectedCloses: 0, closeTimeouts: 0 },
    http: { requests: 10_001, failures: 0, statuses: { "200": 10_001 }, perSecond: 20, latency },
    messages: {
      sent: 42_494,
      acked: 42_494,
      received: 86_193,
      perSecond: 115.9,
      deliveriesPerSecond: 235,
      peakDeliveriesPerSecond: 400,
      lost: 0,
      duplicates: 0,
      unackedAtEnd: 0,
    },
    errors: { total: 0, byKind: {} },
    latency: { connect: latency, e2e: latency, ack: latency, auth: null },
    server: {
      processes: [{ pid: 1, comm: "workerd" }],
      cpuAvgPct: 50,
      cpuMaxPct: 90,
      rssBaselineMB: 100,
      rssMaxMB: 700,
      memoryPerSocketKB: 61.5,
    },
    client: { workers: 1, cores: 2, cpuAvgPct: 20, cpuMaxPct: 40, loopMaxPct: 50, loopSaturatedSeconds: 0, openFileLimit: 20_000 },
    fanout: null,
    timeline: [],
    notes: [],
  };
  return { ...partial, checks: evaluate(partial) };
}

describe("report", () => {
  it("checks the seed targets: PASS, MISS, and N/A for what was not measured", async () => {
    const result = await sample();
    const byName = Object.fromEntries(result.checks.map((c) => [c.name, c.pass]));
    expect(byName).toEqual({
      "sockets held": true,
      errors: true,
      "lost messages": true,
      "e2e avg": true,
      "e2e p99": false,
      "JWT validation p99": null,
      "connect p99": true,
      "memory per socket": true,
    });
  });

  it("draws the origin's box: its sections, every line the same width", async () => {
    const box = summaryBox(await sample());
    const lines = box.split("\n");
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    for (const section of ["CONNECTIONS", "THROUGHPUT", "LATENCY", "TEST INFO", "TARGETS"]) expect(box).toContain(` ${section}`);
    expect(box).toContain("Auth (JWT validate):");
    expect(box).toContain("Message (end-to-end):");
    expect(box).toMatch(/e2e p99 +≤ 3\.00 ms +3\.50 ms +MISS/);
  });

  it("writes a self-contained HTML page (no scripts, no external resources)", async () => {
    const result = await sample();
    result.timeline = [0, 1, 2].map((t) => ({
      t,
      vus: 10,
      sockets: 10,
      connects: 1,
      sent: 5,
      received: 10,
      errors: 0,
      lost: 0,
      e2eP50: 1,
      e2eP95: 2,
      e2eP99: 3,
      e2eMax: 4,
      connectP99: 20,
      serverCpuPct: 50,
      serverRssMB: 100,
      clientCpuPct: 10,
      clientLoopPct: 20,
    }));
    const html = renderHtml(result, summaryBox(result));
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|src=|href=/);
  });
});

describe("server histogram", () => {
  it("interpolates quantiles inside Prometheus buckets of the run's delta", () => {
    const before = {
      buckets: [
        [0.0001, 0],
        [0.0005, 0],
        [0.001, 0],
        [Infinity, 0],
      ] as [number, number][],
      sum: 0,
      count: 0,
    };
    const after = {
      buckets: [
        [0.0001, 50],
        [0.0005, 90],
        [0.001, 100],
        [Infinity, 100],
      ] as [number, number][],
      sum: 0.02,
      count: 100,
    };
    const delta = histogramDelta(before, after);
    expect(promQuantile(delta, 0.5)).toBeCloseTo(0.0001, 9);
    expect(promQuantile(delta, 0.7)).toBeCloseTo(0.0003, 9);
    expect(promQuantile(delta, 0.99)).toBeCloseTo(0.00095, 9);
  });
});
