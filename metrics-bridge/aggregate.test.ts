import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { Aggregate, negotiate, renderText, type Family, type SourceReport } from "./aggregate.ts";

const local: Family[] = [
  { name: "websocket_connections", help: "Open sockets.", type: "gauge", samples: [] },
  { name: "rooms_active", help: "Rooms with sockets.", type: "gauge", samples: [] },
  { name: "outbox_pending_messages", help: "Outbox depth.", type: "gauge", samples: [] },
  { name: "database_up", help: "PostgreSQL answers.", type: "gauge", samples: [{ labels: {}, value: 1 }] },
  { name: "messages_sent_total", help: "Messages.", type: "counter", samples: [{ labels: { room_type: "public" }, value: 999 }] },
  { name: "auth_validate_seconds", help: "JWT validation.", type: "histogram", samples: [] },
];

function report(source: string, sent: number, rooms: SourceReport["rooms"] = {}): SourceReport {
  return {
    source,
    families: [
      { name: "messages_sent_total", help: "x", type: "counter", samples: [{ labels: { room_type: "public" }, value: sent }] },
      {
        name: "auth_validate_seconds",
        help: "x",
        type: "histogram",
        samples: [
          { name: "auth_validate_seconds_bucket", labels: { le: 0.001 }, value: sent },
          { name: "auth_validate_seconds_bucket", labels: { le: "+Inf" }, value: sent },
          { name: "auth_validate_seconds_sum", labels: {}, value: sent / 1000 },
          { name: "auth_validate_seconds_count", labels: {}, value: sent },
        ],
      },
      // A gauge in a report is ignored: gauges come from the scraper or the rooms.
      { name: "database_up", help: "x", type: "gauge", samples: [{ labels: {}, value: 0 }] },
    ],
    rooms,
  };
}

function sample(families: Family[], name: string, labels: Record<string, string | number> = {}): number | undefined {
  for (const family of families) {
    for (const s of family.samples) {
      if ((s.name ?? family.name) === name && JSON.stringify(s.labels) === JSON.stringify(labels)) return s.value;
    }
  }
  return undefined;
}

describe("Aggregate", () => {
  it("sums counters and histograms over sources, replaces a source's older report, and keeps the scraper's gauges", () => {
    const aggregate = new Aggregate();
    aggregate.report(report("a", 3), 0);
    aggregate.report(report("b", 4), 0);
    aggregate.report(report("a", 5), 1); // a's newer cumulative report replaces its older one
    const families = aggregate.families(local);
    expect(sample(families, "messages_sent_total", { room_type: "public" })).toBe(9);
    expect(sample(families, "auth_validate_seconds_bucket", { le: "+Inf" })).toBe(9);
    expect(sample(families, "auth_validate_seconds_count")).toBe(9);
    expect(sample(families, "database_up")).toBe(1);
  });

  it("computes the room gauges from the newest report of each room, wherever it came from", () => {
    const aggregate = new Aggregate();
    aggregate.report(
      report("a", 0, { r1: { type: "public", sockets: 2, outbox: 1, at: 10 }, r2: { type: "private", sockets: 1, outbox: 0, at: 10 } }),
      0,
    );
    // r1 moved to isolate b and lost a socket; a late report from a (older `at`) loses.
    aggregate.report(report("b", 0, { r1: { type: "public", sockets: 1, outbox: 0, at: 20 } }), 0);
    aggregate.report(report("a", 0, { r1: { type: "public", sockets: 2, outbox: 1, at: 15 } }), 0);
    const families = aggregate.families(local);
    expect(sample(families, "websocket_connections", { room_type: "public" })).toBe(1);
    expect(sample(families, "websocket_connections", { room_type: "private" })).toBe(1);
    expect(sample(families, "rooms_active")).toBe(2);
    expect(sample(families, "outbox_pending_messages")).toBe(0);
  });

  it("folds a silent source into the retired totals: its counts stay, so counters never go down", () => {
    const aggregate = new Aggregate();
    aggregate.report(report("gone", 7), 0);
    aggregate.report(report("alive", 1), 0);
    const hourLater = 61 * 60_000;
    aggregate.report(report("alive", 2), hourLater);
    expect(sample(aggregate.families(local), "messages_sent_total", { room_type: "public" })).toBe(9);
    aggregate.report(report("alive", 3), hourLater + 1);
    expect(sample(aggregate.families(local), "messages_sent_total", { room_type: "public" })).toBe(10);
  });
});

describe("renderText", () => {
  it("writes the text format: HELP, TYPE, escaped label values, histogram sample names", () => {
    const text = renderText([
      { name: "x_total", help: "line\nbreak \\ here", type: "counter", samples: [{ labels: { route: 'a"b\\c\nd' }, value: 2 }] },
      {
        name: "h_seconds",
        help: "h",
        type: "histogram",
        samples: [
          { name: "h_seconds_bucket", labels: { le: 0.5 }, value: 1 },
          { name: "h_seconds_bucket", labels: { le: "+Inf" }, value: 1 },
          { name: "h_seconds_sum", labels: {}, value: 0.25 },
          { name: "h_seconds_count", labels: {}, value: 1 },
        ],
      },
    ]);
    expect(text).toBe(
      [
        "# HELP x_total line\\nbreak \\\\ here",
        "# TYPE x_total counter",
        'x_total{route="a\\"b\\\\c\\nd"} 2',
        "# HELP h_seconds h",
        "# TYPE h_seconds histogram",
        'h_seconds_bucket{le="0.5"} 1',
        'h_seconds_bucket{le="+Inf"} 1',
        "h_seconds_sum 0.25",
        "h_seconds_count 1",
        "",
      ].join("\n"),
    );
  });

  it("writes OpenMetrics when asked: counter families without _total, quotes escaped in HELP, # EOF", () => {
    const text = renderText(
      [
        { name: "x_total", help: 'say "hi"', type: "counter", samples: [{ labels: { code: "200" }, value: 2 }] },
        { name: "up_now", help: "g", type: "gauge", samples: [{ labels: {}, value: 1 }] },
      ],
      "openmetrics",
    );
    expect(text).toBe(
      [
        '# HELP x say \\"hi\\"',
        "# TYPE x counter",
        'x_total{code="200"} 2',
        "# HELP up_now g",
        "# TYPE up_now gauge",
        "up_now 1",
        "# EOF",
        "",
      ].join("\n"),
    );
    expect(negotiate("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).toBe("openmetrics");
    expect(negotiate("text/plain")).toBe("text");
    expect(negotiate(undefined)).toBe("text");
  });

  const promtool = spawnSync("promtool", ["--version"]).status === 0;
  it.skipIf(!promtool)("passes promtool check metrics (Debian's prometheus package)", () => {
    const aggregate = new Aggregate();
    aggregate.report(report("a", 3, { r1: { type: "public", sockets: 2, outbox: 1, at: 1 } }), 0);
    const text = renderText(
      aggregate.families(local.map((f) => (f.name === "messages_sent_total" ? { ...f, help: "Messages stored." } : f))),
    );
    const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    expect(result.stdout + result.stderr).toBe("");
    expect(result.status).toBe(0);
  });
});
