// The scenario file format (loadtest/scenarios/*.json): stages of virtual
// users over time, how many users share a room, what each user does, and
// the targets the report checks. The k6 twin (k6/seed.js) reads the same
// files, so durations stay k6 strings ("30s", "2m") in JSON.
import { readdir, readFile } from "node:fs/promises";
import * as z from "zod";
import { parseDuration } from "../core/config.ts";
import { RoomType } from "../protocol/index.ts";

/** "30s", "2m", "250ms" (core/config.ts's parseDuration) or a number of seconds, in milliseconds. */
export function durationMs(value: string | number): number {
  if (typeof value === "number") return value * 1000;
  const ms = parseDuration(value);
  if (ms === undefined) throw new Error(`not a duration: ${value}`);
  return ms;
}

const Duration = z
  .union([
    z.number().nonnegative(),
    z.string().refine((text) => parseDuration(text) !== undefined, 'a duration such as "30s", "2m" or "250ms"'),
  ])
  .transform(durationMs);

const Stage = z.object({ duration: Duration, target: z.number().int().nonnegative() });

const Body = z.number().int().min(16).max(4000).default(64);

/** Connect, send, stay, close, pause, again: the origin's k6 loop. */
const CycleWorkload = z.object({
  kind: z.literal("cycle"),
  /** How long each connection stays open after its welcome. */
  connected: Duration,
  /** Spread of `connected`: each connection lasts connected × (1 ± jitter). */
  jitter: z.number().min(0).max(1).default(0),
  sendsPerConnection: z.number().int().nonnegative().default(1),
  /** Pause between a close and the next connect. */
  pause: Duration.default(0),
  bodyBytes: Body,
});

/** Connect once and stay connected (pings keep the socket busy, not the room). */
const HoldWorkload = z.object({
  kind: z.literal("hold"),
  pingEvery: Duration.optional(),
});

/** Every socket stays; the total send rate rises step by step until p99 passes the limit. */
const FanoutWorkload = z.object({
  kind: z.literal("fanout"),
  /** Messages per second (all rooms together) of the first step. */
  startRate: z.number().positive(),
  /** Each step's rate is the previous one's times this. */
  factor: z.number().gt(1),
  step: Duration,
  maxSteps: z.number().int().min(1),
  /** A step whose end-to-end p99 is above this ends the test. */
  p99LimitMs: z.number().positive(),
  bodyBytes: Body,
});

const Workload = z.discriminatedUnion("kind", [CycleWorkload, HoldWorkload, FanoutWorkload]);

/** What the TARGETS section of the report checks; absent ones are not checked. */
const Targets = z.object({
  /** Concurrent sockets held at the peak (scaled with --vus). */
  sockets: z.number().int().positive().optional(),
  errors: z.number().int().nonnegative().optional(),
  lost: z.number().int().nonnegative().optional(),
  e2eAvgMs: z.number().positive().optional(),
  e2eP99Ms: z.number().positive().optional(),
  authP99Ms: z.number().positive().optional(),
  connectP99Ms: z.number().positive().optional(),
  memoryPerSocketKB: z.number().positive().optional(),
  deliveriesPerSecond: z.number().positive().optional(),
});

export const ScenarioSchema = z.object({
  name: z.string().regex(/^[a-z0-9-]{1,20}$/),
  description: z.string(),
  /** Virtual users over time, as k6 stages: a linear ramp from the previous target. */
  stages: z.array(Stage).min(1),
  rooms: z.object({ usersPerRoom: z.number().int().min(1), type: RoomType.default("public") }),
  workload: Workload,
  /** A send not acknowledged within this time counts as an error. */
  ackTimeout: Duration.default(10_000),
  /** After the last stage: time for in-flight messages before the sockets close. */
  drain: Duration.default(2000),
  targets: Targets.default({}),
});

/** A parsed scenario; every duration is in milliseconds. */
export type Scenario = z.infer<typeof ScenarioSchema>;
export type Workload = Scenario["workload"];
export type Stage = Scenario["stages"][number];

/** A scenario that cannot be read or does not match the format. */
export class ScenarioError extends Error {}

/** Reads `loadtest/scenarios/<name>.json`, or a path to a JSON file. */
export async function loadScenario(nameOrPath: string): Promise<Scenario> {
  const path = nameOrPath.endsWith(".json") ? nameOrPath : new URL(`./scenarios/${nameOrPath}.json`, import.meta.url);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    const shipped = (await readdir(new URL("./scenarios/", import.meta.url))).map((f) => f.replace(/\.json$/, ""));
    throw new ScenarioError(`scenario ${nameOrPath}: no such file; the shipped ones are ${shipped.sort().join(", ")}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(`scenario ${nameOrPath}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = ScenarioSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ScenarioError(`scenario ${nameOrPath}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/** The largest number of virtual users any stage reaches. */
export function peakVus(scenario: Scenario): number {
  return Math.max(...scenario.stages.map((s) => s.target));
}

/** Total length of the stages, in ms. */
export function stagesMs(scenario: Scenario): number {
  return scenario.stages.reduce((sum, s) => sum + s.duration, 0);
}

/** Virtual users the stages ask for `ms` after the start (linear ramps, as k6). */
export function targetAt(stages: readonly Stage[], ms: number): number {
  let from = 0;
  let start = 0;
  for (const stage of stages) {
    if (ms < start + stage.duration) {
      return Math.round(from + ((stage.target - from) * (ms - start)) / Math.max(1, stage.duration));
    }
    from = stage.target;
    start += stage.duration;
  }
  return from;
}

/**
 * Shrinks a scenario for a trial run: `durationScale` multiplies the stages
 * and the workload's durations; `vus` scales every stage target (and the
 * sockets target) so that the peak becomes `vus`.
 */
export function scaleScenario(scenario: Scenario, { durationScale = 1, vus }: { durationScale?: number; vus?: number }): Scenario {
  const time = (ms: number) => Math.max(1, Math.round(ms * durationScale));
  const peak = peakVus(scenario);
  const users = (n: number) => (vus === undefined || peak === 0 ? n : Math.round((n * vus) / peak));
  const workload: Workload =
    scenario.workload.kind === "cycle"
      ? { ...scenario.workload, connected: time(scenario.workload.connected), pause: time(scenario.workload.pause) }
      : scenario.workload.kind === "fanout"
        ? { ...scenario.workload, step: time(scenario.workload.step) }
        : scenario.workload;
  const sockets = scenario.targets.sockets;
  return {
    ...scenario,
    stages: scenario.stages.map((s) => ({ duration: time(s.duration), target: users(s.target) })),
    workload,
    targets: { ...scenario.targets, sockets: sockets === undefined ? undefined : Math.min(sockets, users(sockets)) },
  };
}
