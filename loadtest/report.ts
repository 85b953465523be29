// The run's outputs: the origin's summary box (its sections, plus TARGETS),
// the JSON file and the HTML report (report-html.ts), under loadtest/results/.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { renderHtml } from "./report-html.ts";
import type { Result } from "./result.ts";

const WIDTH = 63;
const int = (n: number) => Math.round(n).toLocaleString("en-US");
/** Latency as the box shows it: whole ms like the origin from 10 ms, finer below. */
export function fmtMs(ms: number): string {
  if (ms >= 10) return `${Math.round(ms)}ms`;
  if (ms >= 1) return `${ms.toFixed(1)}ms`;
  return `${ms.toFixed(2)}ms`;
}

function line(text: string): string {
  return `║${text.length > WIDTH ? text.slice(0, WIDTH) : text.padEnd(WIDTH)}║`;
}
const top = `╔${"═".repeat(WIDTH)}╗`;
const section = `╠${"═".repeat(WIDTH)}╣`;
const rule = `╟${"─".repeat(WIDTH)}╢`;
const bottom = `╚${"═".repeat(WIDTH)}╝`;

function center(text: string): string {
  const left = Math.max(0, Math.floor((WIDTH - text.length) / 2));
  return line(" ".repeat(left) + text);
}

/** "  Label:            value" with the value right-aligned as in the origin's box. */
function field(label: string, value: string): string {
  return line(`  ${`${label}:`.padEnd(20)}${value.padStart(8)}`);
}

function info(label: string, value: string): string {
  return line(`  ${(label ? `${label}:` : "").padEnd(22)}${value}`);
}

function latency(label: string, l: { count: number; avg: number; p95: number; p99: number } | null, missing: string): string[] {
  if (!l || l.count === 0) return [line(`  ${label}:`), line(`    n/a (${l ? "none measured" : missing})`)];
  return [
    line(`  ${label}:`),
    line(`    avg: ${fmtMs(l.avg).padStart(8)}    p95: ${fmtMs(l.p95).padStart(8)}    p99: ${fmtMs(l.p99).padStart(8)}`),
  ];
}

/** The summary box printed at the end of a run. */
export function summaryBox(result: Result): string {
  const s = result.scenario;
  const peakTarget = Math.max(...s.stages.map((st) => st.target));
  const e2e = result.latency.e2e;
  const rows: string[] = [
    top,
    center(`ROOMCAST LOAD TEST: ${s.name} (Target: ${int(peakTarget)} VUs)`),
    section,
    line(" CONNECTIONS"),
    rule,
    field("Peak Concurrent", int(result.connections.peakSockets)),
    field("Total HTTP Requests", int(result.http.requests)),
    field("WS Connects", int(result.connections.connects)),
    field("Errors", int(result.errors.total)),
    field("Unexpected Closes", int(result.connections.unexpectedCloses)),
    field("Lost Messages", int(result.messages.lost)),
    section,
    line(" THROUGHPUT"),
    rule,
    field("HTTP Requests/sec", result.http.perSecond.toFixed(1)),
    field("Messages Sent", int(result.messages.sent)),
    field("Messages Received", int(result.messages.received)),
    field("Msg Throughput/sec", result.messages.perSecond.toFixed(1)),
    field("Deliveries/sec", result.messages.deliveriesPerSecond.toFixed(1)),
  ];
  if (result.fanout) {
    const best = result.fanout.bestDeliveriesPerSecond;
    rows.push(field(`Best (p99≤${result.fanout.limitMs}ms)`, best === null ? "n/a" : `${int(best)}/s`));
  }
  rows.push(
    section,
    line(" LATENCY"),
    rule,
    ...latency("HTTP Request", result.http.latency, ""),
    ...latency("WebSocket Connect", result.latency.connect, ""),
    ...latency("Auth (JWT validate)", result.latency.auth, "no --metrics-url"),
    ...latency("Message (end-to-end)", e2e, ""),
    ...(e2e.count > 0 ? [line(`    p50: ${fmtMs(e2e.p50).padStart(8)}    max: ${fmtMs(e2e.max).padStart(8)}`)] : []),
    section,
    line(" TEST INFO"),
    rule,
    info("Duration", `${(result.durationSeconds / 60).toFixed(1)} minutes (+${result.setup.seconds.toFixed(0)} s setup)`),
    ...result.targets.map((t, i) => info(i === 0 ? "Target" : "", t)),
  );
  const server = result.server;
  rows.push(
    info("Server CPU", server ? `avg ${server.cpuAvgPct.toFixed(0)}%  max ${server.cpuMaxPct.toFixed(0)}% of a core` : "n/a"),
    info("Server RSS", server ? `${server.rssBaselineMB.toFixed(0)} -> ${server.rssMaxMB.toFixed(0)} MB` : "n/a"),
    info("Memory/socket", server?.memoryPerSocketKB != null ? `${server.memoryPerSocketKB.toFixed(1)} KB` : "n/a"),
    info(
      "Client CPU",
      `avg ${result.client.cpuAvgPct.toFixed(0)}%  max ${result.client.cpuMaxPct.toFixed(0)}% (${result.client.workers} workers)`,
    ),
    info("Client event loop", `max ${result.client.loopMaxPct.toFixed(0)}% busy, >90% in ${result.client.loopSaturatedSeconds} s`),
  );
  if (result.checks.length) {
    rows.push(section, line(" TARGETS"), rule);
    for (const check of result.checks) {
      const status = check.pass === null ? "N/A" : check.pass ? "PASS" : "MISS";
      rows.push(line(`  ${check.name.padEnd(19)}${check.target.padEnd(19)}${check.actual.padStart(13)}  ${status}`));
    }
  }
  rows.push(bottom);
  return rows.join("\n");
}

/** Writes `<name>-<time>.json` and `.html` under `dir`; returns their paths. */
export async function writeReports(result: Result, dir: string): Promise<{ json: string; html: string }> {
  await mkdir(dir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
  const base = join(dir, `${result.scenario.name}-${stamp}`);
  const json = `${base}.json`;
  const html = `${base}.html`;
  await writeFile(json, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(html, renderHtml(result, summaryBox(result)));
  return { json, html };
}
