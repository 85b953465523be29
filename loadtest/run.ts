// `npm run loadtest -- --scenario seed [options]`: runs one scenario file
// against running servers, prints the summary box and writes the JSON and
// HTML reports. See loadtest/README.md.
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeReports, summaryBox } from "./report.ts";
import { runScenario, SetupError, type Progress } from "./runner.ts";
import { loadScenario, scaleScenario, ScenarioError } from "./scenario.ts";

const USAGE = `usage: npm run loadtest -- --scenario <seed|fanout|connect|smoke|file.json> [options]
  --target URL            server base URL (default http://127.0.0.1:8787)
  --targets URL,URL       several server processes; rooms spread by nginx's consistent hash of the room id
  --metrics-url URL[,URL] Prometheus endpoint(s) of the server(s), for auth_validate_seconds
  --metrics-token T       bearer token for --metrics-url (GET /metrics on the public port)
  --out DIR               where the JSON and HTML reports go (default loadtest/results)
  --duration-scale F      multiply every duration of the scenario (0.1 for a trial run)
  --vus N                 scale the stages so that the peak is N virtual users
  --workers N             client worker threads (default: cores - 1, at least 1)
  --server-pid PID[,PID]  server processes to sample (default: found from the target ports)
  --user-prefix P         usernames P00000, P00001, ... (default lt-user-); reused across runs
  --setup-concurrency N   parallel setup requests (default 8)
  --fail-on-miss          exit 2 when a target of the scenario is missed
  --quiet                 no progress line`;

/** Bad command-line input: the message and the usage, no stack. */
class UsageError extends Error {}

function numberOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got "${value}"`);
  return n;
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function progressLine(p: Progress): string {
  const cpu = (v: number | null) => (v === null ? "-" : `${v.toFixed(0)}%`);
  return [
    p.second <= p.totalSeconds ? `[${String(p.second).padStart(4)}s/${p.totalSeconds}s]` : `[${String(p.second).padStart(4)}s]`,
    p.rate === null ? `stage ${p.stage}/${p.stages}` : "fanout steps",
    `vus ${p.vus}/${p.targetVus}`,
    `sockets ${p.sockets}`,
    p.rate === null ? "" : `rate ${p.rate.toFixed(0)}/s`,
    `sent ${p.sentPerSecond}/s`,
    `recv ${p.deliveriesPerSecond}/s`,
    `e2e p99 ${p.e2eP99.toFixed(2)}ms`,
    `err ${p.errors}`,
    `lost ${p.lost}`,
    `srv ${cpu(p.serverCpuPct)} ${p.serverRssMB === null ? "" : `${p.serverRssMB.toFixed(0)}MB`}`,
    `cli ${cpu(p.clientCpuPct)} loop ${p.clientLoopPct.toFixed(0)}%`,
  ]
    .filter(Boolean)
    .join(" ");
}

function options() {
  return parseArgs({
    options: {
      scenario: { type: "string" },
      target: { type: "string" },
      targets: { type: "string" },
      "metrics-url": { type: "string" },
      "metrics-token": { type: "string" },
      out: { type: "string" },
      "duration-scale": { type: "string" },
      vus: { type: "string" },
      workers: { type: "string" },
      "server-pid": { type: "string" },
      "user-prefix": { type: "string" },
      "setup-concurrency": { type: "string" },
      "fail-on-miss": { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
}

async function main(): Promise<number> {
  let values: ReturnType<typeof options>["values"];
  try {
    values = options().values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help || !values.scenario) {
    console.log(USAGE);
    return values.help ? 0 : 1;
  }
  const vus = numberOption(values.vus, "vus");
  const scenario = scaleScenario(await loadScenario(values.scenario), {
    durationScale: numberOption(values["duration-scale"], "duration-scale"),
    vus: vus === undefined ? undefined : Math.round(vus),
  });
  const targets = values.targets ? list(values.targets) : [values.target ?? "http://127.0.0.1:8787"];
  const out = values.out ?? fileURLToPath(new URL("./results/", import.meta.url));

  const controller = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    console.error("\nloadtest: stopping early (Ctrl-C again to quit without a report)");
    controller.abort();
  });

  const tty = process.stderr.isTTY;
  let lastPrinted = 0;
  const result = await runScenario(scenario, targets, {
    metricsUrls: list(values["metrics-url"]),
    metricsToken: values["metrics-token"],
    serverPids: list(values["server-pid"]).map(Number),
    workers: numberOption(values.workers, "workers"),
    userPrefix: values["user-prefix"],
    setupConcurrency: numberOption(values["setup-concurrency"], "setup-concurrency"),
    signal: controller.signal,
    log: (text) => console.error(`${tty ? "\r\x1b[K" : ""}loadtest: ${text}`),
    onProgress: values.quiet
      ? undefined
      : (p) => {
          if (tty) process.stderr.write(`\r\x1b[K${progressLine(p)}`);
          else if (p.second - lastPrinted >= 5) {
            lastPrinted = p.second;
            console.error(progressLine(p));
          }
        },
  });
  if (tty) process.stderr.write("\r\x1b[K");
  console.log(summaryBox(result));
  const files = await writeReports(result, out);
  console.log(`JSON: ${files.json}\nHTML: ${files.html}`);
  for (const note of result.notes) console.log(`note: ${note}`);
  const missed = result.checks.filter((c) => c.pass === false);
  if (values["fail-on-miss"] && missed.length > 0) {
    console.error(`loadtest: missed ${missed.map((c) => c.name).join(", ")}`);
    return 2;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof ScenarioError) console.error(`loadtest: ${error.message}\n${USAGE}`);
    else if (error instanceof SetupError) console.error(`loadtest: setup failed: ${error.message}`);
    else console.error(`loadtest: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
