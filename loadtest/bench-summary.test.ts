import { describe, expect, it } from "vitest";
import {
  benchChecks,
  cell,
  formatCheck,
  likeRatio,
  median,
  renderTable,
  spread,
  summarize,
  warmupScenario,
  warmupUsers,
  type Row,
  type TargetName,
} from "./bench-summary.ts";
import { loadScenario, peakVus, scaleScenario } from "./scenario.ts";

function row(target: TargetName, round: number, over: Partial<Row> = {}): Row {
  return {
    target,
    round,
    sockets: 300,
    deliveriesPerSecond: 100,
    bestFanout: null,
    e2eP50: 1,
    e2eP99: 2,
    connectP99: 10,
    errors: 0,
    lost: 0,
    serverCpuAvg: 50,
    memoryPerSocketKB: 20,
    clientLoopMax: 30,
    fanoutRepeats: 0,
    ...over,
  };
}

describe("median and spread", () => {
  it("takes the middle value, or the mean of the two middle ones", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it("spreads over the measured runs and says how many measured", () => {
    expect(spread([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, runs: 3, measured: 3 });
    expect(spread([5, null, 3])).toEqual({ median: 4, min: 3, max: 5, runs: 3, measured: 2 });
    expect(spread([null, null])).toBeNull();
  });

  it("prints one run plainly, several as median (min–max), and partial measurement", () => {
    expect(cell("e2eP99", spread([2.5]))).toBe("2.50");
    expect(cell("e2eP99", spread([1, 2, 4]))).toBe("2.00 (1.00–4.00)");
    expect(cell("errors", spread([0, 1]))).toBe("0.5 (0–1)");
    expect(cell("bestFanout", spread([1000, null]))).toBe("1000 (1000–1000) [1/2 runs]");
    expect(cell("bestFanout", null)).toBe("n/a");
  });

  it("renders a table of medians, fanout columns only for fanout", () => {
    const rows = [row("bare-do", 1), row("bare-do", 2, { e2eP99: 4 }), row("ws", 1), row("ws", 2)];
    const table = renderTable([summarize("bare-do", rows), summarize("ws", rows)], false);
    expect(table).toContain("| 3.00 (2.00–4.00) |");
    expect(table).toContain("e2e p99 ms");
    expect(table).not.toContain("best fanout/s");
    expect(renderTable([summarize("bare-do", rows)], true)).toContain("best fanout/s");
  });
});

describe("ratios of like figures", () => {
  it("compares medians only when both sides measured the figure in every run", () => {
    expect(likeRatio(spread([10, 12]), spread([20, 20]))).toBeCloseTo(0.55);
    expect(likeRatio(spread([10, null]), spread([20, 20]))).toBeNull();
    expect(likeRatio(spread([10]), spread([null]))).toBeNull();
    expect(likeRatio(spread([10]), spread([0]))).toBeNull();
    expect(likeRatio(null, spread([1]))).toBeNull();
  });

  it("fanout: best deliveries/s against best deliveries/s, never the run's deliveries/s", async () => {
    const scenario = await loadScenario("fanout");
    // The old fallback compared roomcast's whole-run deliveries/s with the baselines' best step.
    const rows = [
      row("roomcast", 1, { bestFanout: null, deliveriesPerSecond: 7710 }),
      row("bare-do", 1, { bestFanout: 1000, deliveriesPerSecond: 900 }),
      row("ws", 1, { bestFanout: 2000 }),
    ];
    const checks = benchChecks(scenario, rows);
    expect(checks.map((c) => [c.baseline, c.figure, c.ratio, c.pass])).toEqual([
      ["bare-do", "bestFanout", null, null],
      ["ws", "bestFanout", null, null],
    ]);
    expect(checks.map(formatCheck).join("\n")).not.toMatch(/PASS/);
    expect(formatCheck(checks[0] as never)).toMatch(/= n\/a .*n\/a$/);
  });

  it("fanout: PASS and MISS against each baseline's factor", async () => {
    const scenario = await loadScenario("fanout");
    const rows = [row("roomcast", 1, { bestFanout: 850 }), row("bare-do", 1, { bestFanout: 1000 }), row("ws", 1, { bestFanout: 2000 })];
    const [bare, ws] = benchChecks(scenario, rows);
    expect(bare).toMatchObject({ ratio: 0.85, pass: true, factor: 0.8 });
    expect(ws).toMatchObject({ ratio: 0.425, pass: false, factor: 0.5 });
  });

  it("fanout: n/a when a baseline did not run", async () => {
    const scenario = await loadScenario("fanout");
    const checks = benchChecks(scenario, [row("roomcast", 1, { bestFanout: 850 }), row("bare-do", 1, { bestFanout: 1000 })]);
    expect(checks[1]).toMatchObject({ baseline: "ws", pass: null, reason: "ws not run" });
  });

  it("seed: the one-process targets against bare-do", async () => {
    const scenario = scaleScenario(await loadScenario("seed"), { vus: 300 });
    const rows = [
      row("roomcast", 1, { e2eP50: 2.5, e2eP99: 5, connectP99: 40, serverCpuAvg: 90, errors: 0 }),
      row("roomcast", 2, { e2eP50: 3.5, e2eP99: 3, connectP99: 20, serverCpuAvg: 110, errors: 2, sockets: 299 }),
      row("bare-do", 1),
      row("bare-do", 2),
      row("ws", 1),
      row("ws", 2),
    ];
    const checks = benchChecks(scenario, rows);
    const byFigure = Object.fromEntries(checks.map((c) => [c.figure, c]));
    expect(checks.every((c) => c.baseline === "bare-do")).toBe(true);
    expect(byFigure.sockets).toMatchObject({ subjectValue: 299, wanted: peakVus(scenario), pass: false });
    expect(byFigure.errors).toMatchObject({ subjectValue: 1, baselineValue: 0, pass: false });
    expect(byFigure.e2eP50).toMatchObject({ ratio: 3, pass: true });
    expect(byFigure.e2eP99).toMatchObject({ ratio: 2, pass: true });
    expect(byFigure.connectP99).toMatchObject({ ratio: 3, pass: true });
    expect(byFigure.serverCpuAvg).toMatchObject({ ratio: 2, pass: true });
  });

  it("seed: no e2e or server CPU on one side is n/a, not a pass", async () => {
    const scenario = await loadScenario("seed");
    const rows = [row("roomcast", 1, { e2eP50: null, serverCpuAvg: null }), row("bare-do", 1)];
    const byFigure = Object.fromEntries(benchChecks(scenario, rows).map((c) => [c.figure, c]));
    expect(byFigure.e2eP50?.pass).toBeNull();
    expect(byFigure.serverCpuAvg?.pass).toBeNull();
    expect(formatCheck(byFigure.e2eP50 as never)).toContain("roomcast: measured in 0 of 1 runs");
  });

  it("checks roomcast-before the same way, and nothing without a subject", async () => {
    const scenario = await loadScenario("smoke");
    const rows = [row("roomcast-before", 1), row("bare-do", 1)];
    expect(new Set(benchChecks(scenario, rows).map((c) => c.subject))).toEqual(new Set(["roomcast-before"]));
    expect(benchChecks(scenario, [row("bare-do", 1), row("ws", 1)])).toEqual([]);
  });
});

describe("warm-up run", () => {
  it("is short and small, on the same rooms and workload", async () => {
    const seed = await loadScenario("seed");
    const warm = warmupScenario(seed, 5);
    expect(warmupUsers(seed)).toBe(200);
    expect(warm.stages).toEqual([
      { duration: 1000, target: 200 },
      { duration: 4000, target: 200 },
    ]);
    expect(warm.rooms).toEqual(seed.rooms);
    expect(warm.workload).toMatchObject({ kind: "cycle", connected: 2000 });
    expect(warm.targets).toEqual({});
    const smoke = await loadScenario("smoke");
    expect(warmupUsers(smoke)).toBe(30);
  });
});
