import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { durationMs, loadScenario, peakVus, scaleScenario, stagesMs, targetAt } from "./scenario.ts";

describe("scenario files", () => {
  it("parses the four shipped scenarios", async () => {
    for (const name of ["seed", "fanout", "connect", "smoke"]) {
      const scenario = await loadScenario(name);
      expect(scenario.name).toBe(name);
    }
  });

  it("holds the origin's seed shape: 0 → 1K → 2K → 4K → 6K → 8K → 10K, 30 s each, 2 minutes at 10K", async () => {
    const seed = await loadScenario("seed");
    expect(seed.stages.map((s) => s.target)).toEqual([1000, 2000, 4000, 6000, 8000, 10_000, 10_000]);
    expect(seed.stages.map((s) => s.duration)).toEqual([30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 120_000]);
    expect(stagesMs(seed)).toBe(300_000);
    expect(peakVus(seed)).toBe(10_000);
  });

  it("reads k6 durations", () => {
    expect(durationMs("250ms")).toBe(250);
    expect(durationMs("30s")).toBe(30_000);
    expect(durationMs("2m")).toBe(120_000);
    expect(durationMs(1.5)).toBe(1500);
    expect(() => durationMs("soon")).toThrow("not a duration");
  });

  it("ramps linearly between stage targets, as k6 does", () => {
    const stages = [
      { duration: 1000, target: 100 },
      { duration: 1000, target: 300 },
      { duration: 1000, target: 300 },
    ];
    expect(targetAt(stages, 0)).toBe(0);
    expect(targetAt(stages, 500)).toBe(50);
    expect(targetAt(stages, 1500)).toBe(200);
    expect(targetAt(stages, 2500)).toBe(300);
    expect(targetAt(stages, 10_000)).toBe(300);
  });

  it("scales durations and the peak for a trial run", async () => {
    const seed = scaleScenario(await loadScenario("seed"), { durationScale: 0.1, vus: 600 });
    expect(peakVus(seed)).toBe(600);
    expect(seed.stages[0]).toEqual({ duration: 3000, target: 60 });
    expect(seed.targets.sockets).toBe(600);
    expect(seed.workload.kind === "cycle" && seed.workload.connected).toBe(4500);
  });

  it("names the field of a malformed scenario", async () => {
    const dir = await mkdtemp(join(tmpdir(), "scenario-"));
    const file = join(dir, "bad.json");
    await writeFile(
      file,
      JSON.stringify({
        name: "bad",
        description: "",
        stages: [{ duration: "soon", target: 1 }],
        rooms: { usersPerRoom: 2 },
        workload: { kind: "hold" },
      }),
    );
    await expect(loadScenario(file)).rejects.toThrow(/stages\.0\.duration/);
    await writeFile(file, "{");
    await expect(loadScenario(file)).rejects.toThrow(/scenario .*bad\.json/);
  });

  it("lists the shipped scenarios when a name is unknown", async () => {
    await expect(loadScenario("nope")).rejects.toThrow("scenario nope: no such file; the shipped ones are connect, fanout, seed, smoke");
  });
});
