// The pure part of `npm run bench`: one row of figures per run, the median
// and spread (min–max) of each figure over a target's repeats, the checks of
// roomcast (and roomcast-before) against the baselines, the table, and the
// short warm-up run that precedes each measured run of a non-fanout scenario.
// A ratio compares one figure with the same figure, measured in every run of
// both targets; otherwise it is n/a, and n/a never passes.
import type { Result } from "./result.ts";
import { peakVus, type Scenario } from "./scenario.ts";

/** The servers a bench can run, in the order each round runs them. */
export const TARGETS = ["roomcast", "roomcast-before", "bare-do", "bare-do-sqlite", "ws"] as const;
export type TargetName = (typeof TARGETS)[number];
/** The targets whose figures are checked against the baselines. */
export const SUBJECTS: readonly TargetName[] = ["roomcast", "roomcast-before"];

/** The figures of one run; null where the run did not measure it. */
export interface Row {
  target: TargetName;
  /** 1-based repeat. */
  round: number;
  sockets: number;
  /** Deliveries/s over the whole run (ramp included). */
  deliveriesPerSecond: number;
  /** Fanout only: the best step within the p99 limit; null when no step was within it. */
  bestFanout: number | null;
  e2eP50: number | null;
  e2eP99: number | null;
  connectP99: number | null;
  errors: number;
  lost: number;
  serverCpuAvg: number | null;
  memoryPerSocketKB: number | null;
  clientLoopMax: number;
  /** Fanout only: steps whose first attempt was over the limit and were run again. */
  fanoutRepeats: number;
}

export type Figure = Exclude<keyof Row, "target" | "round">;

export function rowOf(target: TargetName, round: number, r: Result): Row {
  return {
    target,
    round,
    sockets: r.connections.peakSockets,
    deliveriesPerSecond: r.messages.deliveriesPerSecond,
    bestFanout: r.fanout?.bestDeliveriesPerSecond ?? null,
    e2eP50: r.latency.e2e.count > 0 ? r.latency.e2e.p50 : null,
    e2eP99: r.latency.e2e.count > 0 ? r.latency.e2e.p99 : null,
    connectP99: r.latency.connect.count > 0 ? r.latency.connect.p99 : null,
    errors: r.errors.total,
    lost: r.messages.lost,
    serverCpuAvg: r.server?.cpuAvgPct ?? null,
    memoryPerSocketKB: r.server?.memoryPerSocketKB ?? null,
    clientLoopMax: r.client.loopMaxPct,
    fanoutRepeats: r.fanout?.steps.filter((s) => s.attempt > 1).length ?? 0,
  };
}

/** The median (mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A figure over a target's runs. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Runs of the target. */
  runs: number;
  /** Runs that measured the figure (the median and min–max are over these). */
  measured: number;
}

/** Median and min–max of the measured values; null when no run measured the figure. */
export function spread(values: readonly (number | null)[]): Spread | null {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (known.length === 0) return null;
  return { median: median(known), min: Math.min(...known), max: Math.max(...known), runs: values.length, measured: known.length };
}

/** Every figure of one target over its runs. */
export interface TargetSummary {
  target: TargetName;
  runs: number;
  figures: Record<Figure, Spread | null>;
}

const FIGURES: Figure[] = [
  "sockets",
  "deliveriesPerSecond",
  "bestFanout",
  "e2eP50",
  "e2eP99",
  "connectP99",
  "errors",
  "lost",
  "serverCpuAvg",
  "memoryPerSocketKB",
  "clientLoopMax",
  "fanoutRepeats",
];

export function summarize(target: TargetName, rows: readonly Row[]): TargetSummary {
  const mine = rows.filter((r) => r.target === target);
  const figures = Object.fromEntries(FIGURES.map((f) => [f, spread(mine.map((r) => r[f]))])) as Record<Figure, Spread | null>;
  return { target, runs: mine.length, figures };
}

/**
 * subject / baseline of one figure: both medians, only when the figure was
 * measured in every run of both and the baseline's is above zero; else null.
 */
export function likeRatio(subject: Spread | null, baseline: Spread | null): number | null {
  if (!subject || !baseline) return null;
  if (subject.measured < subject.runs || baseline.measured < baseline.runs) return null;
  if (!(baseline.median > 0)) return null;
  return subject.median / baseline.median;
}

/** One PASS/MISS/n/a line of the bench. */
export interface BenchCheck {
  subject: TargetName;
  /** The baseline compared with (for "sockets held", shown for context only). */
  baseline: TargetName;
  figure: Figure;
  /** "held": every run held all sockets; "le": subject ≤ baseline; "ratio<=" / "ratio>=": subject / baseline against `factor`. */
  rule: "held" | "le" | "ratio<=" | "ratio>=";
  factor: number | null;
  /** Medians (for "held": the fewest sockets of any run, against `wanted`). */
  subjectValue: number | null;
  baselineValue: number | null;
  wanted: number | null;
  ratio: number | null;
  /** null: n/a. */
  pass: boolean | null;
  /** Why n/a, when it is. */
  reason: string | null;
}

interface Rule {
  figure: Figure;
  rule: BenchCheck["rule"];
  factor: number | null;
  baseline: TargetName;
}

/** The targets for one process: a non-fanout scenario compares with bare-do; fanout's best deliveries/s with both baselines. */
export function rulesFor(scenario: Scenario): Rule[] {
  if (scenario.workload.kind === "fanout") {
    return [
      { figure: "bestFanout", rule: "ratio>=", factor: 0.8, baseline: "bare-do" },
      { figure: "bestFanout", rule: "ratio>=", factor: 0.5, baseline: "ws" },
    ];
  }
  return [
    { figure: "sockets", rule: "held", factor: null, baseline: "bare-do" },
    { figure: "errors", rule: "le", factor: null, baseline: "bare-do" },
    { figure: "e2eP50", rule: "ratio<=", factor: 3, baseline: "bare-do" },
    { figure: "e2eP99", rule: "ratio<=", factor: 2, baseline: "bare-do" },
    { figure: "connectP99", rule: "ratio<=", factor: 3, baseline: "bare-do" },
    { figure: "serverCpuAvg", rule: "ratio<=", factor: 2, baseline: "bare-do" },
  ];
}

/** The checks of every subject that ran, against the baselines. */
export function benchChecks(scenario: Scenario, rows: readonly Row[]): BenchCheck[] {
  const ran = new Set(rows.map((r) => r.target));
  const checks: BenchCheck[] = [];
  const wanted = peakVus(scenario);
  for (const subject of SUBJECTS) {
    if (!ran.has(subject)) continue;
    const mine = summarize(subject, rows);
    for (const rule of rulesFor(scenario)) {
      const theirs = ran.has(rule.baseline) ? summarize(rule.baseline, rows) : null;
      const s = mine.figures[rule.figure];
      const b = theirs?.figures[rule.figure] ?? null;
      const base = { subject, baseline: rule.baseline, figure: rule.figure, rule: rule.rule, factor: rule.factor };
      if (rule.rule === "held") {
        const fewest = Math.min(...rows.filter((r) => r.target === subject).map((r) => r.sockets));
        const baselineFewest = theirs ? Math.min(...rows.filter((r) => r.target === rule.baseline).map((r) => r.sockets)) : null;
        checks.push({
          ...base,
          subjectValue: fewest,
          baselineValue: baselineFewest,
          wanted,
          ratio: null,
          pass: fewest >= wanted,
          reason: null,
        });
        continue;
      }
      const sv = s?.median ?? null;
      const bv = b?.median ?? null;
      if (!theirs) {
        checks.push({
          ...base,
          subjectValue: sv,
          baselineValue: null,
          wanted: null,
          ratio: null,
          pass: null,
          reason: `${rule.baseline} not run`,
        });
        continue;
      }
      const missing = [
        ...(s && s.measured === s.runs ? [] : [`${subject}: measured in ${s?.measured ?? 0} of ${mine.runs} runs`]),
        ...(b && b.measured === b.runs ? [] : [`${rule.baseline}: measured in ${b?.measured ?? 0} of ${theirs.runs} runs`]),
      ];
      if (rule.rule === "le") {
        const pass = missing.length || sv === null || bv === null ? null : sv <= bv;
        checks.push({
          ...base,
          subjectValue: sv,
          baselineValue: bv,
          wanted: bv,
          ratio: null,
          pass,
          reason: missing.length ? missing.join("; ") : null,
        });
        continue;
      }
      const ratio = likeRatio(s, b);
      const factor = rule.factor ?? 1;
      const reason = missing.length ? missing.join("; ") : ratio === null ? `${rule.baseline}'s median is 0` : null;
      const pass = ratio === null ? null : rule.rule === "ratio>=" ? ratio >= factor : ratio <= factor;
      checks.push({ ...base, subjectValue: sv, baselineValue: bv, wanted: null, ratio, pass, reason });
    }
  }
  return checks;
}

/** How each figure is printed: the table's header (with the unit), digits, and the unit in check lines. */
const FORMAT: Record<Figure, { label: string; header: string; digits: number; unit: string }> = {
  sockets: { label: "peak sockets", header: "sockets", digits: 0, unit: "" },
  deliveriesPerSecond: { label: "deliveries/s over the run", header: "deliveries/s (run)", digits: 0, unit: "" },
  bestFanout: { label: "best deliveries/s", header: "best fanout/s", digits: 0, unit: "" },
  e2eP50: { label: "e2e p50", header: "e2e p50 ms", digits: 2, unit: " ms" },
  e2eP99: { label: "e2e p99", header: "e2e p99 ms", digits: 2, unit: " ms" },
  connectP99: { label: "connect p99", header: "connect p99 ms", digits: 1, unit: " ms" },
  errors: { label: "errors", header: "errors", digits: 0, unit: "" },
  lost: { label: "lost", header: "lost", digits: 0, unit: "" },
  serverCpuAvg: { label: "server CPU avg", header: "server CPU %", digits: 0, unit: "%" },
  memoryPerSocketKB: { label: "KB/socket", header: "KB/socket", digits: 1, unit: " KB" },
  clientLoopMax: { label: "client loop max", header: "client loop %", digits: 0, unit: "%" },
  fanoutRepeats: { label: "repeated steps", header: "repeated steps", digits: 0, unit: "" },
};

/** Figures that are whole numbers in each run. */
const COUNTS = new Set<Figure>(["sockets", "errors", "lost", "fanoutRepeats"]);

function num(figure: Figure, v: number): string {
  // A count whose median falls between two runs keeps its half.
  if (COUNTS.has(figure) && !Number.isInteger(v)) return v.toFixed(1);
  return v.toFixed(FORMAT[figure].digits);
}

/** One table cell (unit in the header): the value (one run) or "median (min–max)", and how many runs measured it when not all did. */
export function cell(figure: Figure, s: Spread | null): string {
  if (!s) return "n/a";
  const value = s.runs === 1 ? num(figure, s.median) : `${num(figure, s.median)} (${num(figure, s.min)}–${num(figure, s.max)})`;
  return s.measured < s.runs ? `${value} [${s.measured}/${s.runs} runs]` : value;
}

/** The table: one line per target, each figure's median and spread over its runs. */
export function renderTable(summaries: readonly TargetSummary[], fanout: boolean): string {
  const figures = FIGURES.filter((f) => fanout || (f !== "bestFanout" && f !== "fanoutRepeats"));
  const head = ["target", "runs", ...figures.map((f) => FORMAT[f].header)];
  const lines = summaries.map((s) => [s.target, String(s.runs), ...figures.map((f) => cell(f, s.figures[f]))]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [render(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...lines.map(render)].join("\n");
}

const verdict = (pass: boolean | null) => (pass === null ? "n/a" : pass ? "PASS" : "MISS");

/** A check as one line of text. */
export function formatCheck(c: BenchCheck): string {
  const f = FORMAT[c.figure];
  const v = (x: number | null) => (x === null ? "n/a" : `${num(c.figure, x)}${f.unit}`);
  const why = c.reason ? ` (${c.reason})` : "";
  if (c.rule === "held") {
    const context = c.baselineValue === null ? "" : `; ${c.baseline}: ${c.baselineValue}`;
    return `${c.subject}: all sockets held: fewest at the peak in any run ${v(c.subjectValue)} of ${c.wanted ?? "?"}${context} ${verdict(c.pass)}`;
  }
  if (c.rule === "le") {
    return `${c.subject} vs ${c.baseline}: ${f.label} ${v(c.subjectValue)} vs ${v(c.baselineValue)} (target <= ${c.baseline}'s)${why} ${verdict(c.pass)}`;
  }
  const ratio = c.ratio === null ? "n/a" : `${c.ratio.toFixed(2)}x`;
  const op = c.rule === "ratio>=" ? ">=" : "<=";
  return `${c.subject} / ${c.baseline}: ${f.label} ${v(c.subjectValue)} / ${v(c.baselineValue)} = ${ratio} (target ${op} ${c.factor}x)${why} ${verdict(c.pass)}`;
}

/** A fanout sweep in one line: each attempt's rate and whether its p99 was within the limit. */
export function sweepLine(fanout: NonNullable<Result["fanout"]>): string {
  const attempts = fanout.steps.map((s) => `${s.rate.toFixed(0)}${s.attempt > 1 ? " (repeat)" : ""} ${s.withinLimit ? "ok" : "over"}`);
  const warm = fanout.warmup ? `warm-up ${fanout.warmup.rate.toFixed(0)}; ` : "";
  const best = fanout.bestDeliveriesPerSecond === null ? "n/a" : `${fanout.bestDeliveriesPerSecond.toFixed(0)}/s`;
  return `${warm}msg/s asked: ${attempts.join(", ")}; best ${best}`;
}

/** Users of the warm-up run: a tenth of the peak, at least one room's worth, at most 200 (and never above the peak). */
export function warmupUsers(scenario: Scenario): number {
  const peak = peakVus(scenario);
  return Math.min(peak, Math.max(scenario.rooms.usersPerRoom, Math.min(200, Math.ceil(peak / 10))));
}

/**
 * The warm-up run of a non-fanout scenario: the same rooms and workload,
 * warmupUsers(scenario) users for `seconds` (a 1 s ramp, then held);
 * connections last at most 2 s so that each user cycles (connects, sends,
 * closes) a few times. Its figures are not part of the table.
 */
export function warmupScenario(scenario: Scenario, seconds: number): Scenario {
  const users = warmupUsers(scenario);
  const ms = Math.max(2000, Math.round(seconds * 1000));
  const workload: Scenario["workload"] =
    scenario.workload.kind === "cycle"
      ? { ...scenario.workload, connected: Math.min(scenario.workload.connected, 2000), pause: Math.min(scenario.workload.pause, 1000) }
      : scenario.workload;
  return {
    ...scenario,
    description: `warm-up for ${scenario.name}`,
    stages: [
      { duration: 1000, target: users },
      { duration: ms - 1000, target: users },
    ],
    workload,
    drain: Math.min(scenario.drain, 1000),
    targets: {},
  };
}
