// The fanout scenario's steps, driven by the main thread after the ramp:
// set the total send rate, wait one step, measure the step's seconds from the
// timeline, and go on with rate × factor. A step whose end-to-end p99 passes
// the limit is run once more at the same rate (after a short pause with no
// sends); the sweep ends when that repeat is over the limit too, or after
// maxSteps rates. Both attempts are kept. Optionally the first rate is run
// once before the steps as a warm-up, kept apart and out of the best.
import { summarize } from "./histogram.ts";
import type { FanoutStep, Result } from "./result.ts";
import type { Scenario } from "./scenario.ts";
import { nowMs, type Timeline, type ToWorker } from "./stats.ts";

type FanoutWorkload = Extract<Scenario["workload"], { kind: "fanout" }>;

/** What the steps need from the run. */
export interface StepContext {
  startAt: number;
  workers: number;
  timeline: Timeline;
  broadcast: (message: ToWorker) => void;
  /** Resolves at `at` (epoch ms) or earlier when the run is stopped. */
  until: (at: number) => Promise<void>;
  stopped: () => boolean;
  /** The rate now asked for, for the progress line. */
  onRate: (rate: number) => void;
  log: (line: string) => void;
  /** Run the first rate once, unrecorded, before the steps. */
  warmup?: boolean;
}

/** What one attempt measured; the sweep adds its step number and attempt. */
export type Measured = Omit<FanoutStep, "step" | "attempt">;

/** After an attempt: on to the next rate, the same rate once more, or the end of the sweep. */
export type Verdict = "next" | "repeat" | "end";

/** The rule: within the limit goes on; a first attempt over it is repeated; a repeat over it ends the sweep. */
export function verdict(withinLimit: boolean, attempt: number): Verdict {
  if (withinLimit) return "next";
  return attempt < 2 ? "repeat" : "end";
}

/** The rates a sweep asks for, and how. */
export interface SweepPlan {
  startRate: number;
  factor: number;
  /** Distinct rates at most; a repeat does not count as one. */
  maxSteps: number;
  warmup: boolean;
}

/**
 * Runs the sweep with `measure` doing one attempt at a rate (`label` is for
 * the log); `beforeRepeat` runs between a failed attempt and its repeat.
 */
export async function sweep(
  plan: SweepPlan,
  measure: (rate: number, label: string) => Promise<Measured>,
  stopped: () => boolean,
  beforeRepeat: () => Promise<void> = async () => {},
): Promise<{ warmup: FanoutStep | null; steps: FanoutStep[]; best: number | null }> {
  let warmup: FanoutStep | null = null;
  if (plan.warmup && !stopped()) warmup = { step: 0, attempt: 1, ...(await measure(plan.startRate, "warm-up (not recorded)")) };
  const steps: FanoutStep[] = [];
  let rate = plan.startRate;
  let step = 1;
  let attempt = 1;
  while (step <= plan.maxSteps && !stopped()) {
    const measured = await measure(rate, attempt === 1 ? `step ${step}` : `step ${step} (repeat)`);
    steps.push({ step, attempt, ...measured });
    const next = verdict(measured.withinLimit, attempt);
    if (next === "end") break;
    if (next === "repeat") {
      attempt = 2;
      await beforeRepeat();
      continue;
    }
    rate *= plan.factor;
    step += 1;
    attempt = 1;
  }
  const within = steps.filter((s) => s.withinLimit).map((s) => s.deliveriesPerSecond);
  return { warmup, steps, best: within.length ? Math.max(...within) : null };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Seconds with no sends before a repeat, so that what the failed attempt queued is not measured again. */
const REPEAT_PAUSE_MS = 2000;

/** Runs the steps; returns them and the best deliveries/s of a step within the limit. */
export async function runFanoutSteps(workload: FanoutWorkload, ctx: StepContext): Promise<NonNullable<Result["fanout"]>> {
  const stepSeconds = Math.max(1, Math.round(workload.step / 1000));
  const measure = async (rate: number, label: string): Promise<Measured> => {
    const from = Math.ceil((nowMs() - ctx.startAt) / 1000);
    ctx.onRate(rate);
    ctx.broadcast({ type: "rate", perSecond: rate });
    await ctx.until(ctx.startAt + (from + stepSeconds) * 1000);
    const to = Math.floor((nowMs() - ctx.startAt) / 1000);
    // Ticks arrive just after each second ends.
    const deadline = Date.now() + 3000;
    while ((ctx.timeline.complete(ctx.workers)?.second ?? -1) < to - 1 && Date.now() < deadline) await sleep(50);
    // The step's first second is warm-up when the step is long enough to spare it.
    const window = ctx.timeline.range(to - from >= 3 ? from + 1 : from, to);
    const e2e = summarize(window.e2e);
    const seconds = Math.max(1, window.seconds);
    const withinLimit = e2e.count > 0 && e2e.p99 <= workload.p99LimitMs;
    ctx.log(
      `fanout ${label}: ${rate.toFixed(0)} msg/s asked, ${(window.counts.received / seconds).toFixed(0)} deliveries/s, p99 ${e2e.p99.toFixed(2)} ms${withinLimit ? "" : ` (over ${workload.p99LimitMs} ms)`}`,
    );
    return {
      rate,
      seconds: window.seconds,
      sentPerSecond: window.counts.sent / seconds,
      deliveriesPerSecond: window.counts.received / seconds,
      errors: window.counts.errors,
      e2e,
      withinLimit,
    };
  };
  const pause = async () => {
    ctx.broadcast({ type: "rate", perSecond: 0 });
    await ctx.until(nowMs() + REPEAT_PAUSE_MS);
  };
  const plan = { startRate: workload.startRate, factor: workload.factor, maxSteps: workload.maxSteps, warmup: ctx.warmup ?? false };
  const { warmup, steps, best } = await sweep(plan, measure, ctx.stopped, pause);
  ctx.broadcast({ type: "rate", perSecond: 0 });
  return { limitMs: workload.p99LimitMs, warmup, steps, bestDeliveriesPerSecond: best };
}
