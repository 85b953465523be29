// `npm run bench`: one workload against roomcast and, in the same run on the
// same machine, against the two baselines of loadtest/baselines/ (a bare
// Durable Object broadcast on the same workerd, a raw Node `ws` server).
// Each server is started fresh, loaded alone, and stopped; then a table of
// the three and the ratios roomcast / baseline, and a JSON file.
//   npm run bench -- [--scenario fanout] [--duration-scale F] [--vus N] [--only roomcast,bare-do,ws]
// roomcast runs as `npm run serve:workerd` does (build it first with
// `npm run build:workerd`), on DATABASE_URL when set, else the embedded
// PostgreSQL.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startBareDurableObject, startWsServer, waitForHttp, type Baseline } from "./baselines/serve.ts";
import { summaryBox } from "./report.ts";
import type { Result } from "./result.ts";
import { runScenario } from "./runner.ts";
import { loadScenario, scaleScenario } from "./scenario.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PORTS = { roomcast: 8871, metrics: 9871, bare: 8872, ws: 8873 };
const NAMES = ["roomcast", "bare-do", "ws"] as const;
type Name = (typeof NAMES)[number];

/** The ratios the issue asks for: roomcast's deliveries/s against each baseline's. */
const RATIO_TARGETS: Record<Exclude<Name, "roomcast">, number> = { "bare-do": 0.8, ws: 0.5 };

async function startRoomcast(): Promise<Baseline> {
  const config = join(process.env.WORKERD_OUT_DIR ?? join(ROOT, "dist/workerd"), "config.capnp");
  if (!existsSync(config)) throw new Error(`${config} is missing: run npm run build:workerd first`);
  const dataDir = await mkdtemp(join(tmpdir(), "roomcast-bench-"));
  const child = spawn(process.execPath, [join(ROOT, "scripts/start.ts"), "--runtime=workerd"], {
    env: {
      ...process.env,
      PORT: String(PORTS.roomcast),
      METRICS_ADDR: `127.0.0.1:${PORTS.metrics}`,
      ROOMCAST_DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: "5499",
    },
    stdio: ["ignore", "ignore", "inherit"],
    detached: true,
  });
  const base = `http://127.0.0.1:${PORTS.roomcast}`;
  await waitForHttp(`${base}/readyz`, child, "roomcast", 60_000);
  return {
    name: "roomcast",
    base,
    pid: child.pid ?? 0,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise<void>((r) => child.once("exit", () => r()));
        // The supervisor drains the rooms, then stops workerd.
        process.kill(-(child.pid ?? 0), "SIGTERM");
        const timer = setTimeout(() => process.kill(-(child.pid ?? 0), "SIGKILL"), 20_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function start(name: Name, outDir: string): Promise<Baseline> {
  if (name === "roomcast") return startRoomcast();
  if (name === "bare-do") return startBareDurableObject(PORTS.bare, join(outDir, "bare-do"), "2026-11-01");
  return startWsServer(PORTS.ws);
}

interface Row {
  name: Name;
  sockets: number;
  deliveriesPerSecond: number;
  bestFanout: number | null;
  e2eP50: number;
  e2eP99: number;
  connectP99: number;
  errors: number;
  lost: number;
  serverCpuAvg: number | null;
  memoryPerSocketKB: number | null;
  clientLoopMax: number;
}

function row(name: Name, r: Result): Row {
  return {
    name,
    sockets: r.connections.peakSockets,
    deliveriesPerSecond: r.messages.deliveriesPerSecond,
    bestFanout: r.fanout?.bestDeliveriesPerSecond ?? null,
    e2eP50: r.latency.e2e.p50,
    e2eP99: r.latency.e2e.p99,
    connectP99: r.latency.connect.p99,
    errors: r.errors.total,
    lost: r.messages.lost,
    serverCpuAvg: r.server?.cpuAvgPct ?? null,
    memoryPerSocketKB: r.server?.memoryPerSocketKB ?? null,
    clientLoopMax: r.client.loopMaxPct,
  };
}

function table(rows: Row[]): string {
  const head = ["target", "sockets", "deliveries/s", "best fanout/s", "e2e p50", "e2e p99", "connect p99", "errors", "lost", "server CPU", "KB/socket", "client loop"];
  const fmt = (v: number | null, digits = 0, unit = "") => (v === null ? "-" : `${v.toFixed(digits)}${unit}`);
  const lines = rows.map((r) => [
    r.name,
    String(r.sockets),
    fmt(r.deliveriesPerSecond),
    fmt(r.bestFanout),
    fmt(r.e2eP50, 2, " ms"),
    fmt(r.e2eP99, 2, " ms"),
    fmt(r.connectP99, 1, " ms"),
    String(r.errors),
    String(r.lost),
    fmt(r.serverCpuAvg, 0, "%"),
    fmt(r.memoryPerSocketKB, 1),
    fmt(r.clientLoopMax, 0, "%"),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [render(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...lines.map(render)].join("\n");
}

/** The figure a ratio compares: the fanout scenario's best step, else deliveries/s over the run. */
function throughput(r: Row): number {
  return r.bestFanout ?? r.deliveriesPerSecond;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "fanout" },
      "duration-scale": { type: "string" },
      vus: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
      quiet: { type: "boolean" },
    },
  });
  const scenario = scaleScenario(await loadScenario(values.scenario ?? "fanout"), {
    durationScale: values["duration-scale"] ? Number(values["duration-scale"]) : undefined,
    vus: values.vus ? Math.round(Number(values.vus)) : undefined,
  });
  const only = (values.only ?? NAMES.join(",")).split(",").map((s) => s.trim()) as Name[];
  for (const name of only) if (!NAMES.includes(name)) throw new Error(`unknown target ${name}; use ${NAMES.join(", ")}`);
  const out = values.out ?? join(ROOT, "loadtest/results");
  await mkdir(out, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), "roomcast-bench-build-"));

  const results: { name: Name; result: Result }[] = [];
  for (const name of only) {
    console.error(`bench: ${name}: starting`);
    const server = await start(name, work);
    try {
      const result = await runScenario(scenario, [server.base], {
        metricsUrls: name === "roomcast" ? [`http://127.0.0.1:${PORTS.metrics}/metrics`] : [],
        userPrefix: `bench-${name}-`,
        log: (text) => console.error(`bench: ${name}: ${text}`),
        onProgress: values.quiet
          ? undefined
          : (p) => {
              if (p.second % 10 === 0) console.error(`bench: ${name}: ${p.second}s sockets ${p.sockets} recv ${p.deliveriesPerSecond}/s e2e p99 ${p.e2eP99.toFixed(1)} ms`);
            },
      });
      results.push({ name, result });
      console.log(summaryBox(result));
    } finally {
      await server.stop();
    }
  }
  await rm(work, { recursive: true, force: true });

  const rows = results.map(({ name, result }) => row(name, result));
  console.log(`\nbench: scenario ${scenario.name}, ${new Date().toISOString()}\n${table(rows)}`);
  const mine = rows.find((r) => r.name === "roomcast");
  const ratios: { baseline: string; ratio: number; target: number; pass: boolean }[] = [];
  for (const r of rows) {
    if (!mine || r.name === "roomcast" || throughput(r) === 0) continue;
    const ratio = throughput(mine) / throughput(r);
    const target = RATIO_TARGETS[r.name];
    ratios.push({ baseline: r.name, ratio, target, pass: ratio >= target });
    console.log(`roomcast / ${r.name}: ${ratio.toFixed(2)}x (target >= ${target}x) ${ratio >= target ? "PASS" : "MISS"}`);
  }
  const file = join(out, `bench-${scenario.name}-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z.json`);
  await writeFile(file, JSON.stringify({ tool: "roomcast-bench", scenario: scenario.name, rows, ratios, results }, null, 2));
  console.log(`JSON: ${file}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
