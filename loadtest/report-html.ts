// The self-contained HTML report: the summary box, the targets, and inline
// SVG charts of the per-second timeline (no scripts, no external files).
import type { Result, TimelinePoint } from "./result.ts";

interface Series {
  name: string;
  color: string;
  values: (number | null)[];
}

const W = 860;
const H = 230;
const M = { left: 60, right: 16, top: 26, bottom: 30 };

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c] ?? c);
}

/** A round step that gives about `count` ticks up to `max`. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * magnitude).find((s) => s >= raw);
  return step ?? raw;
}

function label(n: number): string {
  if (n >= 10_000) return `${(n / 1000).toFixed(0)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(n < 1 ? 2 : 1);
}

/** A line chart of series over the timeline's seconds; gaps where a value is null. */
function chart(title: string, unit: string, t: number[], series: Series[]): string {
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const maxT = Math.max(1, ...t);
  const yStep = niceStep(Math.max(...all, 0) || 1, 5);
  const maxY = Math.max(yStep, Math.ceil((Math.max(...all, 0) || 1) / yStep) * yStep);
  const x = (v: number) => M.left + ((W - M.left - M.right) * v) / maxT;
  const y = (v: number) => H - M.bottom - ((H - M.top - M.bottom) * v) / maxY;
  const parts: string[] = [];
  for (let v = 0; v <= maxY + 1e-9; v += yStep) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    parts.push(`<text x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${label(v)}</text>`);
  }
  const tStep = niceStep(maxT, 10);
  for (let v = 0; v <= maxT; v += tStep) {
    parts.push(`<text x="${x(v)}" y="${H - M.bottom + 16}" text-anchor="middle">${label(v)}s</text>`);
  }
  parts.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#999"/>`);
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#999"/>`);
  let legendX = M.left;
  series.forEach((s) => {
    let path = "";
    let pen = false;
    s.values.forEach((v, k) => {
      const tk = t[k];
      if (v === null || !Number.isFinite(v) || tk === undefined) {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${x(tk).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    parts.push(
      `<rect x="${legendX}" y="6" width="10" height="10" fill="${s.color}"/><text x="${legendX + 14}" y="15">${escape(s.name)}</text>`,
    );
    legendX += 24 + s.name.length * 6.5;
  });
  return `<figure><figcaption>${escape(title)} <small>(${escape(unit)}, per second)</small></figcaption>
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif" role="img">${parts.join("")}</svg></figure>`;
}

function table(head: string[], rows: (string | number)[][]): string {
  const cell = (v: string | number) => `<td>${escape(String(v))}</td>`;
  return `<table><tr>${head.map((h) => `<th>${escape(h)}</th>`).join("")}</tr>${rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("")}</table>`;
}

function charts(timeline: TimelinePoint[]): string {
  const t = timeline.map((p) => p.t);
  const col = <K extends keyof TimelinePoint>(key: K) => timeline.map((p) => p[key] as number | null);
  // Latency of a second without any message is not zero: leave a gap.
  const lat = (key: "e2eP50" | "e2eP95" | "e2eP99") => timeline.map((p) => (p.received > 0 ? p[key] : null));
  return [
    chart("Sockets", "count", t, [
      { name: "open sockets", color: "#1f77b4", values: col("sockets") },
      { name: "active VUs", color: "#aaaaaa", values: col("vus") },
    ]),
    chart("Throughput", "per second", t, [
      { name: "messages sent", color: "#2ca02c", values: col("sent") },
      { name: "deliveries (received)", color: "#1f77b4", values: col("received") },
      { name: "connects", color: "#aaaaaa", values: col("connects") },
    ]),
    chart("End-to-end message latency", "ms", t, [
      { name: "p50", color: "#2ca02c", values: lat("e2eP50") },
      { name: "p95", color: "#ff7f0e", values: lat("e2eP95") },
      { name: "p99", color: "#d62728", values: lat("e2eP99") },
    ]),
    chart("WebSocket connect latency p99", "ms", t, [
      { name: "connect p99", color: "#9467bd", values: timeline.map((p) => (p.connects > 0 ? p.connectP99 : null)) },
    ]),
    chart("CPU", "% of one core", t, [
      { name: "server", color: "#d62728", values: col("serverCpuPct") },
      { name: "load-test client", color: "#7f7f7f", values: col("clientCpuPct") },
      { name: "busiest client event loop (% busy)", color: "#17becf", values: col("clientLoopPct") },
    ]),
    chart("Server resident memory", "MB", t, [{ name: "RSS", color: "#8c564b", values: col("serverRssMB") }]),
    chart("Errors and lost messages", "count", t, [
      { name: "errors", color: "#d62728", values: col("errors") },
      { name: "lost", color: "#000000", values: col("lost") },
    ]),
  ].join("\n");
}

/** The whole page. */
export function renderHtml(result: Result, box: string): string {
  const checks = table(
    ["target", "wanted", "measured", ""],
    result.checks.map((c) => [c.name, c.target, c.actual, c.pass === null ? "N/A" : c.pass ? "PASS" : "MISS"]),
  );
  const errors = Object.entries(result.errors.byKind);
  const fanout = result.fanout
    ? `<h2>Fanout steps</h2>${table(
        [
          "step",
          "rate asked (msg/s)",
          "sent/s",
          "deliveries/s",
          "p50 ms",
          "p99 ms",
          "max ms",
          "errors",
          `p99 ≤ ${result.fanout.limitMs} ms`,
        ],
        [...(result.fanout.warmup ? [result.fanout.warmup] : []), ...result.fanout.steps].map((s) => [
          s.step === 0 ? "warm-up (not counted)" : s.attempt > 1 ? `${s.step} (repeat)` : String(s.step),
          s.rate.toFixed(0),
          s.sentPerSecond.toFixed(0),
          s.deliveriesPerSecond.toFixed(0),
          s.e2e.p50.toFixed(2),
          s.e2e.p99.toFixed(2),
          s.e2e.max.toFixed(1),
          s.errors,
          s.withinLimit ? "yes" : "no",
        ]),
      )}`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>roomcast load test: ${escape(result.scenario.name)} ${escape(result.startedAt)}</title>
<style>
body{font-family:sans-serif;margin:24px;max-width:900px;color:#222}
pre{font-size:13px;line-height:1.25;background:#fafafa;padding:8px;overflow-x:auto}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;font-size:13px}
th{background:#f2f2f2}td:first-child{text-align:left}figure{margin:16px 0}figcaption{font-weight:bold}
</style></head><body>
<h1>roomcast load test: ${escape(result.scenario.name)}</h1>
<p>${escape(result.scenario.description)}</p>
<p>Started ${escape(result.startedAt)} against ${result.targets.map(escape).join(", ")}; ${result.setup.users} users in ${result.setup.rooms} rooms; ${result.client.workers} client worker thread(s) on ${result.client.cores} cores.</p>
<pre>${escape(box)}</pre>
<h2>Targets</h2>${checks}
<h2>Timeline</h2>
${charts(result.timeline)}
${fanout}
<h2>Errors by kind</h2>${errors.length ? table(["kind", "count"], errors) : "<p>none</p>"}
${result.notes.length ? `<h2>Notes</h2><ul>${result.notes.map((n) => `<li>${escape(n)}</li>`).join("")}</ul>` : ""}
<h2>Scenario</h2><details><summary>as run (durations in ms)</summary><pre>${escape(JSON.stringify(result.scenario, null, 2))}</pre></details>
</body></html>
`;
}
