// The fanout scenario's steps, driven by the main thread after the ramp:
// set the total send rate, wait one step, measure the step's seconds from the
// timeline, and go on with rate × factor until the end-to-end p99 of a step
// passes the limit (or maxSteps).
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
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs the steps; returns them and the best deliveries/s of a step within the limit. */
export async function runFanoutSteps(workload: FanoutWorkload, ctx: StepContext): Promise<NonNullable<Result["fanout"]>> {
  const steps: FanoutStep[] = [];
  const stepSeconds = Math.max(1, Math.round(workload.step / 1000));
  let rate = workload.startRate;
  for (let step = 0; step < workload.maxSteps && !ctx.stopped(); step += 1) {
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
    steps.push({
      rate,
      seconds: window.seconds,
      sentPerSecond: window.counts.sent / seconds,
      deliveriesPerSecond: window.counts.received / seconds,
      errors: window.counts.errors,
      e2e,
      withinLimit,
    });
    ctx.log(`fanout step ${step + 1}: ${rate.toFixed(0)} msg/s asked, ${(window.counts.received / seconds).toFixed(0)} deliveries/s, p99 ${e2e.p99.toFixed(2)} ms`);
    if (!withinLimit) break;
    rate *= workload.factor;
  }
  ctx.broadcast({ type: "rate", perSecond: 0 });
  const below = steps.filter((s) => s.withinLimit).map((s) => s.deliveriesPerSecond);
  return { limitMs: workload.p99LimitMs, steps, bestDeliveriesPerSecond: below.length ? Math.max(...below) : null };
}
