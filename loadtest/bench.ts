// `npm run bench`: one workload against roomcast and, in the same run on the
// same machine, against the two baselines of loadtest/baselines/ (a bare
// Durable Object broadcast on the same workerd, a raw Node `ws` server), and
// optionally against roomcast built in another checkout ("roomcast-before").
// Each run starts its server fresh in a process group of its own, warms it
// up, loads it alone, samples only that server's process tree, and stops it.
// With --repeat N the targets run N times, interleaved (roomcast, bare-do,
// ws, roomcast, …); the table gives each figure's median and min–max, then
// the checks of roomcast against the baselines, and a JSON file keeps every
// run. The README (loadtest/README.md) describes the options and the rules.
// roomcast runs as `npm run serve:workerd` does (build it first with
// `npm run build:workerd`), on DATABASE_URL when set, else the embedded
// PostgreSQL.
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  killTree,
  spawnServer,
  startBareDurableObject,
  startedOrStopped,
  startWsServer,
  stopServer,
  waitForHttp,
  type Baseline,
} from "./baselines/serve.ts";
import {
  benchChecks,
  formatCheck,
  renderTable,
  rowOf,
  summarize,
  sweepLine,
  TARGETS,
  warmupScenario,
  warmupUsers,
  type TargetName,
} from "./bench-summary.ts";
import { summaryBox } from "./report.ts";
import type { Result } from "./result.ts";
import { runScenario } from "./runner.ts";
import { loadScenario, scaleScenario, type Scenario } from "./scenario.ts";
import { processTree, type SeenProcess } from "./server-probe.ts";

const USAGE = `usage: npm run bench -- [--scenario fanout|seed|connect|smoke|file.json] [--duration-scale F] [--vus N]
  [--only roomcast,roomcast-before,bare-do,bare-do-sqlite,ws] [--repeat N] [--warmup SECONDS] [--before DIR] [--out DIR] [--quiet]`;

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Each target's ports; every target has its own, so one left behind cannot answer for the next. */
const PORTS: Record<TargetName, { http: number; metrics?: number; pg?: number }> = {
  roomcast: { http: 8871, metrics: 9871, pg: 5499 },
  "roomcast-before": { http: 8874, metrics: 9874, pg: 5498 },
  "bare-do": { http: 8872 },
  "bare-do-sqlite": { http: 8875 },
  ws: { http: 8873 },
};

/** How long roomcast's supervisor may take to drain its rooms and stop workerd before SIGKILL. */
const ROOMCAST_STOP_GRACE_MS = 20_000;

/** roomcast as `npm run serve:workerd` runs it, from `checkout` with the build in `outDir`. */
async function startRoomcast(name: TargetName, checkout: string, outDir: string): Promise<Baseline> {
  const ports = PORTS[name];
  const dataDir = await mkdtemp(join(tmpdir(), `${name}-bench-`));
  const child = spawnServer(process.execPath, [join(checkout, "scripts/start.ts"), "--runtime=workerd"], {
    cwd: checkout,
    env: {
      ...process.env,
      WORKERD_OUT_DIR: outDir,
      PORT: String(ports.http),
      METRICS_ADDR: `127.0.0.1:${ports.metrics}`,
      ROOMCAST_DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(ports.pg),
    },
  });
  const base = `http://127.0.0.1:${ports.http}`;
  try {
    await startedOrStopped(child, waitForHttp(`${base}/readyz`, child, name, 60_000));
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const seen = processTree(child.pid ?? 0);
  return {
    name,
    base,
    pid: child.pid ?? 0,
    stop: async () => {
      // SIGTERM to the supervisor's group: it drains the rooms, then stops workerd (a group of its own).
      await stopServer(child, ROOMCAST_STOP_GRACE_MS, seen);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Where each roomcast target is checked out and built. */
interface Checkouts {
  roomcast: { dir: string; outDir: string };
  before: { dir: string; outDir: string } | null;
}

function start(name: TargetName, checkouts: Checkouts, work: string): Promise<Baseline> {
  if (name === "roomcast") return startRoomcast(name, checkouts.roomcast.dir, checkouts.roomcast.outDir);
  if (name === "roomcast-before") {
    if (!checkouts.before) throw new Error("roomcast-before needs --before DIR");
    return startRoomcast(name, checkouts.before.dir, checkouts.before.outDir);
  }
  if (name === "bare-do") return startBareDurableObject(PORTS["bare-do"].http, join(work, "bare-do"), "2026-11-01");
  if (name === "bare-do-sqlite")
    return startBareDurableObject(PORTS["bare-do-sqlite"].http, join(work, "bare-do-sqlite"), "2026-11-01", true);
  return startWsServer(PORTS.ws.http);
}

/** What the warm-up run did (its figures are not in the table). */
interface WarmupSummary {
  kind: "run";
  users: number;
  seconds: number;
  peakSockets: number;
  sent: number;
  received: number;
  errors: number;
  e2eP99: number | null;
}

/** One measured run. */
interface Run {
  target: TargetName;
  round: number;
  /** The short run before it (non-fanout scenarios); fanout's warm-up step is in result.fanout.warmup. */
  warmup: WarmupSummary | null;
  /** The server's process tree, as sampled. */
  serverProcesses: { pid: number; comm: string }[];
  result: Result;
}

function parse(): {
  scenarioName: string;
  durationScale: number | undefined;
  vus: number | undefined;
  only: TargetName[];
  repeat: number;
  warmupSeconds: number;
  before: string | null;
  out: string;
  quiet: boolean;
} {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "fanout" },
      "duration-scale": { type: "string" },
      vus: { type: "string" },
      only: { type: "string" },
      repeat: { type: "string", default: "1" },
      warmup: { type: "string", default: "5" },
      before: { type: "string" },
      out: { type: "string" },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const repeat = Number(values.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 50) throw new Error(`--repeat ${values.repeat}: a whole number from 1 to 50`);
  const warmupSeconds = Number(values.warmup);
  if (!Number.isFinite(warmupSeconds) || warmupSeconds < 0 || warmupSeconds > 60)
    throw new Error(`--warmup ${values.warmup}: seconds from 0 (none) to 60`);
  const before = values.before === undefined ? null : resolve(values.before);
  const defaults = TARGETS.filter((t) => t !== "roomcast-before" || before !== null);
  const asked = values.only === undefined ? defaults : values.only.split(",").map((s) => s.trim());
  for (const name of asked)
    if (!(TARGETS as readonly string[]).includes(name)) throw new Error(`unknown target ${name}; use ${TARGETS.join(", ")}`);
  if (asked.includes("roomcast-before") && before === null)
    throw new Error("roomcast-before needs --before DIR (a checkout built with npm run build:workerd)");
  // Always the same order in a round, whatever the order of --only.
  const only = TARGETS.filter((t) => asked.includes(t));
  if (only.length === 0) throw new Error("--only names no target");
  return {
    scenarioName: values.scenario ?? "fanout",
    durationScale: values["duration-scale"] ? Number(values["duration-scale"]) : undefined,
    vus: values.vus ? Math.round(Number(values.vus)) : undefined,
    only,
    repeat,
    warmupSeconds,
    before,
    out: values.out ?? join(ROOT, "loadtest/results"),
    quiet: values.quiet ?? false,
  };
}

/** Fails before any run when a roomcast target has not been built. */
function checkBuilds(only: readonly TargetName[], checkouts: Checkouts): void {
  const wanted = [
    ...(only.includes("roomcast") ? [checkouts.roomcast] : []),
    ...(only.includes("roomcast-before") && checkouts.before ? [checkouts.before] : []),
  ];
  for (const { dir, outDir } of wanted) {
    if (!existsSync(join(dir, "scripts/start.ts"))) throw new Error(`${dir}/scripts/start.ts is missing: not a roomcast checkout`);
    const config = join(outDir, "config.capnp");
    if (!existsSync(config)) throw new Error(`${config} is missing: run npm run build:workerd in ${dir} first`);
  }
}

async function warmUp(
  name: TargetName,
  label: string,
  scenario: Scenario,
  seconds: number,
  base: string,
  serverPids: number[],
  signal: AbortSignal,
): Promise<WarmupSummary> {
  const warm = warmupScenario(scenario, seconds);
  const users = warmupUsers(scenario);
  console.error(`bench: ${label}: warm-up: ${users} users for ${Math.max(2, seconds)} s (not measured)`);
  const r = await runScenario(warm, [base], {
    serverPids,
    // The measured run's first users: it then only logs them in again.
    userPrefix: `bench-${name}-`,
    signal,
    log: (text) => {
      if (text.startsWith("warning:")) console.error(`bench: ${label}: warm-up: ${text}`);
    },
  });
  if (r.errors.total > 0)
    console.error(`bench: ${label}: warm-up had ${r.errors.total} errors (${Object.keys(r.errors.byKind).join(", ")})`);
  return {
    kind: "run",
    users,
    seconds: r.durationSeconds,
    peakSockets: r.connections.peakSockets,
    sent: r.messages.sent,
    received: r.messages.received,
    errors: r.errors.total,
    e2eP99: r.latency.e2e.count > 0 ? r.latency.e2e.p99 : null,
  };
}

async function main(): Promise<number> {
  const args = parse();
  const scenario = scaleScenario(await loadScenario(args.scenarioName), { durationScale: args.durationScale, vus: args.vus });
  const fanout = scenario.workload.kind === "fanout";
  const checkouts: Checkouts = {
    roomcast: { dir: ROOT, outDir: resolve(ROOT, process.env.WORKERD_OUT_DIR ?? "dist/workerd") },
    before: args.before ? { dir: args.before, outDir: join(args.before, "dist/workerd") } : null,
  };
  checkBuilds(args.only, checkouts);
  await mkdir(args.out, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), "roomcast-bench-build-"));
  const startedAt = new Date();

  // Ctrl-C (or SIGTERM): the current run ends early and is dropped, its server is stopped, the
  // finished runs are reported. A second one kills the server's tree at once and exits.
  const controller = new AbortController();
  let tree: SeenProcess[] = [];
  const onSignal = () => {
    if (controller.signal.aborted) {
      killTree(tree);
      rmSync(work, { recursive: true, force: true });
      process.exit(130);
    }
    console.error("bench: interrupted: stopping the current run and its server (again to kill it now)");
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Whatever ends this process, no server stays behind.
  process.on("exit", () => killTree(tree));

  const runs: Run[] = [];
  rounds: for (let round = 1; round <= args.repeat; round += 1) {
    for (const name of args.only) {
      if (controller.signal.aborted) break rounds;
      const label = args.repeat > 1 ? `${name} #${round}` : name;
      console.error(`bench: ${label}: starting`);
      const server = await start(name, checkouts, work);
      tree = processTree(server.pid);
      try {
        const serverPids = tree.map((p) => p.pid);
        const warmup =
          args.warmupSeconds > 0 && !fanout
            ? await warmUp(name, label, scenario, args.warmupSeconds, server.base, serverPids, controller.signal)
            : null;
        if (controller.signal.aborted) break rounds;
        const metrics = PORTS[name].metrics;
        const result = await runScenario(scenario, [server.base], {
          serverPids,
          fanoutWarmup: fanout && args.warmupSeconds > 0,
          metricsUrls: metrics ? [`http://127.0.0.1:${metrics}/metrics`] : [],
          userPrefix: `bench-${name}-`,
          signal: controller.signal,
          log: (text) => console.error(`bench: ${label}: ${text}`),
          onProgress: args.quiet
            ? undefined
            : (p) => {
                if (p.second % 10 === 0)
                  console.error(
                    `bench: ${label}: ${p.second}s sockets ${p.sockets} recv ${p.deliveriesPerSecond}/s e2e p99 ${p.e2eP99.toFixed(1)} ms`,
                  );
              },
        });
        if (controller.signal.aborted) break rounds;
        runs.push({ target: name, round, warmup, serverProcesses: tree.map(({ pid, comm }) => ({ pid, comm })), result });
        console.log(summaryBox(result));
      } finally {
        await server.stop();
        tree = [];
      }
    }
  }
  await rm(work, { recursive: true, force: true });

  const rows = runs.map((r) => rowOf(r.target, r.round, r.result));
  const summaries = args.only.filter((t) => rows.some((r) => r.target === t)).map((t) => summarize(t, rows));
  const checks = benchChecks(scenario, rows);
  const what = args.repeat > 1 ? `median (min–max) of ${args.repeat} interleaved runs per target` : "one run per target";
  const warm =
    args.warmupSeconds === 0
      ? "no warm-up"
      : fanout
        ? "warm-up: the first rate once, unrecorded"
        : `warm-up: ${args.warmupSeconds} s before each run`;
  console.log(`\nbench: scenario ${scenario.name}, ${startedAt.toISOString()}, ${what}, ${warm}`);
  if (controller.signal.aborted) console.log(`bench: interrupted: ${runs.length} finished runs reported`);
  console.log(renderTable(summaries, fanout));
  if (fanout) {
    for (const run of runs) if (run.result.fanout) console.log(`${run.target} #${run.round}: ${sweepLine(run.result.fanout)}`);
  }
  if (checks.length > 0) console.log(`\n${checks.map(formatCheck).join("\n")}`);
  else console.log("\n(no checks: roomcast did not run)");

  const file = join(args.out, `bench-${scenario.name}-${startedAt.toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`);
  const json = {
    tool: "roomcast-bench",
    version: 2,
    scenario: scenario.name,
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    repeat: args.repeat,
    warmupSeconds: args.warmupSeconds,
    before: args.before,
    order: args.only,
    ports: PORTS,
    interrupted: controller.signal.aborted,
    summary: summaries,
    checks,
    runs: runs.map((run, i) => ({ ...run, row: rows[i] })),
  };
  await writeFile(file, JSON.stringify(json, null, 2));
  console.log(`JSON: ${file}`);
  return controller.signal.aborted ? 130 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
