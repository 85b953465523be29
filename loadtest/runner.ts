// runScenario: one load-test run against servers that speak the roomcast
// contract. Setup over HTTP, then the virtual users in worker threads (all
// users of a room in the same worker), a per-second timeline, server and
// client sampling, and the Result. `npm run loadtest` (run.ts) is its CLI; a
// bench script can call it directly.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { summarize } from "./histogram.ts";
import { runFanoutSteps } from "./fanout.ts";
import { evaluate, type Result } from "./result.ts";
import { peakVus, stagesMs, targetAt, type Scenario } from "./scenario.ts";
import { preflight } from "./preflight.ts";
import { histogramDelta, promQuantile, scrapeMetrics, type PromHistogram } from "./server-probe.ts";
import { Sampler } from "./sampler.ts";
import { createRooms, loginUsers, newHttpStats, SetupError, username } from "./setup.ts";
import { isFromWorker, nowMs, Timeline, type ToWorker } from "./stats.ts";
import { HashRing, parseTarget, type Target } from "./targets.ts";
import type { WorkerInit } from "./worker.ts";

export { SetupError } from "./setup.ts";

/** Where the server's side is read, and how the run is carried out. */
export interface RunOptions {
  /** Metrics endpoints (Prometheus text); auth latency is n/a without them. */
  metricsUrls?: string[];
  metricsToken?: string;
  /** Server processes to sample; found from the targets' ports when absent (server-probe.ts). */
  serverPids?: number[];
  /** Fanout: run the first rate once, unrecorded, before the steps (npm run bench does). */
  fanoutWarmup?: boolean;
  /** Worker threads (default: cores − 1, at least 1). */
  workers?: number;
  userPrefix?: string;
  password?: string;
  /** Concurrent setup requests (default 8). */
  setupConcurrency?: number;
  /** Ends the load phase early; the run still reports. */
  signal?: AbortSignal;
  /** Called once a second during the load phase. */
  onProgress?: (progress: Progress) => void;
  /** Setup steps and warnings. */
  log?: (line: string) => void;
}

/** The progress line's figures. */
export interface Progress {
  second: number;
  /** Length of the stages; the fanout steps come after them. */
  totalSeconds: number;
  stage: number;
  stages: number;
  targetVus: number;
  vus: number;
  sockets: number;
  sentPerSecond: number;
  deliveriesPerSecond: number;
  e2eP99: number;
  errors: number;
  lost: number;
  serverCpuPct: number | null;
  serverRssMB: number | null;
  clientCpuPct: number | null;
  clientLoopPct: number;
  rate: number | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/** Runs one scenario (already scaled) against `targets` (base URLs) and returns what it measured. */
export async function runScenario(scenario: Scenario, targetUrls: string[], options: RunOptions = {}): Promise<Result> {
  const log = options.log ?? (() => {});
  const notes: string[] = [];
  const note = (text: string) => {
    notes.push(text);
    log(`warning: ${text}`);
  };
  if (targetUrls.length === 0) throw new SetupError("no target");
  let targets: Target[];
  try {
    targets = targetUrls.map(parseTarget);
  } catch (error) {
    throw new SetupError(error instanceof Error ? error.message : String(error));
  }
  const ring = new HashRing(targets);
  const vus = peakVus(scenario);
  if (vus < 1) throw new SetupError("the scenario's stages never ask for a virtual user");
  const usersPerRoom = scenario.rooms.usersPerRoom;
  const roomCount = Math.ceil(vus / usersPerRoom);

  const { limit, processes, before } = await preflight(targets, vus, options, note, log);
  const metricsUrls = options.metricsUrls ?? [];
  if (!metricsUrls.length) notes.push("no --metrics-url: auth (JWT validate) latency is n/a");

  // Setup: users, then rooms (ids unique to this run, so no other traffic shares them).
  const startedAt = new Date();
  const setupStart = performance.now();
  const http = newHttpStats();
  const setupOptions = {
    bases: targets.map((t) => t.base),
    userPrefix: options.userPrefix ?? "lt-user-",
    password: options.password ?? "loadtest-password",
    concurrency: options.setupConcurrency ?? 8,
    onProgress: (done: number, total: number, what: string) => log(`setup: ${done}/${total} ${what}`),
  };
  const tokens = await loginUsers(vus, setupOptions, http);
  const registered = http.statuses["201"] !== undefined;
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const rooms = Array.from({ length: roomCount }, (_, r) => {
    const id = `lt-${runId}-${r}`;
    const members = Array.from({ length: Math.min(usersPerRoom, vus - r * usersPerRoom) }, (_, k) => r * usersPerRoom + k);
    return { id, target: ring.pick(id), members };
  });
  await createRooms(
    rooms.map((room) => ({
      id: room.id,
      base: room.target.base,
      token: tokens[room.members[0] ?? 0] ?? "",
      type: scenario.rooms.type,
      members: room.members.slice(1).map((vu) => username(setupOptions.userPrefix, vu)),
    })),
    setupOptions,
    http,
  );
  const setupSeconds = (performance.now() - setupStart) / 1000;
  log(`setup: ${vus} users, ${roomCount} rooms in ${setupSeconds.toFixed(1)} s`);

  // Workers: rooms dealt round-robin, so every worker ramps at the same pace.
  const cores = availableParallelism();
  const workerCount = Math.max(1, Math.min(options.workers ?? Math.max(1, cores - 1), roomCount));
  const startAt = nowMs() + 1000;
  const sampler = new Sampler(processes, startAt);
  const timeline = new Timeline();
  let unackedAtEnd = 0;
  let fatal: string | undefined;
  // One crashed worker ends the load phase at once (the run then throws).
  let crash = () => {};
  const crashed = new Promise<void>((resolve) => (crash = resolve));
  const fail = (text: string) => {
    fatal ??= text;
    crash();
  };
  let stopping = false;
  const workers: Worker[] = [];
  const done: Promise<void>[] = [];
  for (let w = 0; w < workerCount; w += 1) {
    const init: WorkerInit = {
      worker: w,
      scenario,
      startAt,
      totalRooms: roomCount,
      rooms: rooms
        .filter((_, r) => r % workerCount === w)
        .map((room) => ({
          id: room.id,
          url: `${room.target.ws}/rooms/${room.id}/ws`,
          users: room.members.map((vu) => ({ vu, token: tokens[vu] ?? "" })),
        })),
    };
    const worker = new Worker(new URL("./worker.ts", import.meta.url), { workerData: init });
    workers.push(worker);
    done.push(
      new Promise<void>((resolve) => {
        worker.on("message", (message: unknown) => {
          if (!isFromWorker(message)) return;
          if (message.type === "tick") timeline.add(message.tick);
          else if (message.type === "done") {
            unackedAtEnd += message.unackedAtEnd;
            resolve();
          } else {
            fail(message.message);
            resolve();
          }
        });
        worker.on("error", (error) => {
          fail(error.stack ?? error.message);
          resolve();
        });
        worker.on("exit", (code) => {
          if (!stopping) fail(`worker ${w} exited with code ${code} before the end of the run`);
          resolve();
        });
      }),
    );
  }
  const broadcast = (message: ToWorker) => workers.forEach((w) => w.postMessage(message));

  // Progress once a second, from the last second every worker reported.
  const totalMs = stagesMs(scenario);
  let rate: number | null = null;
  const progress = setInterval(() => {
    const last = timeline.complete(workerCount);
    if (!last || !options.onProgress) return;
    const sample = sampler.at(last.second);
    let stage = 0;
    for (let elapsed = 0; stage < scenario.stages.length; stage += 1) {
      elapsed += scenario.stages[stage]?.duration ?? 0;
      if (last.second * 1000 < elapsed) break;
    }
    options.onProgress({
      second: last.second + 1,
      totalSeconds: Math.ceil(totalMs / 1000),
      stage: Math.min(stage + 1, scenario.stages.length),
      stages: scenario.stages.length,
      targetVus: targetAt(scenario.stages, (last.second + 1) * 1000),
      vus: last.vus,
      sockets: last.sockets,
      sentPerSecond: last.counts.sent,
      deliveriesPerSecond: last.counts.received,
      e2eP99: last.e2e.quantile(0.99) / 1000,
      errors: timeline.totals.errors,
      lost: timeline.totals.lost,
      serverCpuPct: sample?.serverCpuPct ?? null,
      serverRssMB: sample?.serverRssMB ?? null,
      clientCpuPct: sample?.clientCpuPct ?? null,
      clientLoopPct: 100 * last.loop,
      rate,
    });
  }, 1000);

  const aborted = new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener("abort", () => resolve(), { once: true });
  });
  const finished = Promise.all(done).then(() => {});
  const until = (at: number) => Promise.race([sleep(at - nowMs()), aborted, crashed]);
  const stopped = () => options.signal?.aborted || fatal !== undefined;

  await until(startAt + totalMs);
  const workload = scenario.workload;
  const fanout =
    workload.kind === "fanout" && !stopped()
      ? await runFanoutSteps(workload, {
          startAt,
          workers: workerCount,
          timeline,
          broadcast,
          until,
          stopped,
          onRate: (r) => (rate = r),
          log,
          warmup: options.fanoutWarmup ?? false,
        })
      : null;

  broadcast({ type: "stop" });
  await Promise.race([finished, sleep(scenario.drain + 15_000)]);
  stopping = true;
  const endAt = nowMs();
  clearInterval(progress);
  sampler.stop();
  await Promise.all(workers.map((w) => w.terminate()));
  if (fatal !== undefined) throw new Error(`a load-test worker failed: ${fatal}`);

  const after = before ? await scrapeMetrics(metricsUrls, options.metricsToken, "auth_validate_seconds", []) : undefined;
  const authDelta = before && after ? histogramDelta(before.histogram, after.histogram) : undefined;
  const authMs = (authDelta?.sum ?? 0) * 1000;
  if (authDelta && authDelta.count > 0 && Math.abs(authMs - Math.round(authMs)) < 1e-6) {
    // workerd's clock only moves between I/O, in whole milliseconds.
    notes.push(
      `auth_validate_seconds holds only whole milliseconds (${Math.round(authMs)} ms over ${authDelta.count} validations): the server's clock moves in ms steps, so its JWT quantiles interpolate between 0 and 1 ms and a sub-ms target cannot be judged from them`,
    );
  }
  const durationSeconds = Math.max(0.001, (endAt - startAt) / 1000);
  const seconds = timeline.ordered();
  const complete = seconds.filter((s) => s.workers >= workerCount);
  const peakSockets = Math.max(0, ...complete.map((s) => s.sockets));
  const totals = timeline.totals;
  const saturated = seconds.filter((s) => s.loop > 0.9).length;
  if (saturated > 0) {
    notes.push(
      `a client worker's event loop was over 90% busy in ${saturated} s: the client may be the limit there (try --workers, or a second machine)`,
    );
  }
  const serverStats = sampler.summary(peakSockets);
  if (serverStats?.memoryPerSocketKB != null) {
    notes.push(
      `memory per socket = server RSS growth (${serverStats.rssBaselineMB.toFixed(0)} -> ${serverStats.rssMaxMB.toFixed(0)} MB) / ${peakSockets} peak sockets, room objects included; a server that served load before reuses freed memory and reads low: start it fresh for this figure`,
    );
  }
  const errorsByKind = { ...timeline.errorsByKind };
  for (const [status, n] of Object.entries(http.statuses)) {
    if (!["200", "201", "204", "409"].includes(status) && !(status === "401")) errorsByKind[`http_${status}`] = n;
  }
  const errorsTotal = Object.values(errorsByKind).reduce((a, b) => a + b, 0);
  const partial: Omit<Result, "checks"> = {
    tool: "roomcast-loadtest",
    version: 1,
    scenario,
    targets: targets.map((t) => t.base),
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    durationSeconds,
    setup: { users: vus, rooms: roomCount, seconds: setupSeconds, registered },
    connections: {
      peakSockets,
      peakVus: Math.max(0, ...complete.map((s) => s.vus)),
      connects: totals.connects,
      connectFailures: totals.connectFailures,
      unexpectedCloses: totals.unexpectedCloses,
      closeTimeouts: totals.closeTimeouts,
    },
    http: {
      requests: http.requests,
      failures: http.failures,
      statuses: http.statuses,
      perSecond: http.requests / (durationSeconds + setupSeconds),
      latency: summarize(http.latency),
    },
    messages: {
      sent: totals.sent,
      acked: totals.acked,
      received: totals.received,
      perSecond: totals.sent / durationSeconds,
      deliveriesPerSecond: totals.received / durationSeconds,
      peakDeliveriesPerSecond: Math.max(0, ...seconds.map((s) => s.counts.received)),
      lost: totals.lost,
      duplicates: totals.duplicates,
      unackedAtEnd,
    },
    errors: { total: errorsTotal, byKind: errorsByKind },
    latency: {
      connect: summarize(timeline.connect),
      e2e: summarize(timeline.e2e),
      ack: summarize(timeline.ack),
      auth: authDelta ? authSummary(authDelta) : null,
    },
    server: serverStats,
    client: {
      workers: workerCount,
      cores,
      cpuAvgPct: sampler.clientAvgPct(),
      cpuMaxPct: sampler.clientMaxPct(),
      loopMaxPct: 100 * Math.max(0, ...seconds.map((s) => s.loop)),
      loopSaturatedSeconds: saturated,
      openFileLimit: limit,
    },
    fanout,
    timeline: seconds.map((s) => {
      const sample = sampler.at(s.second);
      return {
        t: s.second,
        vus: s.vus,
        sockets: s.sockets,
        connects: s.counts.connects,
        sent: s.counts.sent,
        received: s.counts.received,
        errors: s.counts.errors,
        lost: s.counts.lost,
        e2eP50: s.e2e.quantile(0.5) / 1000,
        e2eP95: s.e2e.quantile(0.95) / 1000,
        e2eP99: s.e2e.quantile(0.99) / 1000,
        e2eMax: s.e2e.max / 1000,
        connectP99: s.connect.quantile(0.99) / 1000,
        serverCpuPct: sample?.serverCpuPct ?? null,
        serverRssMB: sample?.serverRssMB ?? null,
        clientCpuPct: sample?.clientCpuPct ?? null,
        clientLoopPct: 100 * s.loop,
      };
    }),
    notes,
  };
  if (options.signal?.aborted) notes.push("stopped early (interrupted)");
  return { ...partial, checks: evaluate(partial) };
}

/** avg and quantiles (ms) of the server's auth_validate_seconds over the run. */
function authSummary(delta: PromHistogram): NonNullable<Result["latency"]["auth"]> {
  const ms = (s: number) => s * 1000;
  return {
    count: delta.count,
    avg: delta.count > 0 ? ms(delta.sum / delta.count) : 0,
    p50: ms(promQuantile(delta, 0.5)),
    p95: ms(promQuantile(delta, 0.95)),
    p99: ms(promQuantile(delta, 0.99)),
  };
}
