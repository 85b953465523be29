// Debian's Prometheus (`apt-get install prometheus`; .ci/run installs it),
// started on loopback with a scrape config of the test's, and its HTTP API.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "./node-client.ts";
import { freePort } from "./server.ts";

export const hasPrometheus: boolean = (() => {
  try {
    execFileSync("prometheus", ["--version"], { stdio: "ignore" });
    execFileSync("promtool", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    console.warn("prometheus/promtool are not installed: the Prometheus tests are skipped (apt-get install prometheus)");
    return false;
  }
})();

export interface RunningPrometheus {
  base: string;
  /** Every series of an instant query, with labels and value; throws on a PromQL error. */
  series(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** The value of an instant query that returns one series (undefined when it returns none). */
  query(promql: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

/**
 * The shipped scrape config (deploy/prometheus/prometheus.yml) pointed at
 * the test's metrics socket and rules, scraping and evaluating every second.
 */
export async function shippedConfig(target: string, rules: string): Promise<string> {
  const text = await readFile("deploy/prometheus/prometheus.yml", "utf8");
  const config = text
    .replace(/scrape_interval: \d+s/, "scrape_interval: 1s")
    .replace(/evaluation_interval: \d+s/, "evaluation_interval: 1s")
    .replace("/etc/prometheus/roomcast-alerts.yml", rules)
    .replace('"127.0.0.1:9464"', `"${target}"`);
  if (!config.includes(rules) || !config.includes(target)) throw new Error("deploy/prometheus/prometheus.yml changed shape");
  return config;
}

/** Starts Prometheus with `configText` as its config. */
export async function startPrometheus(configText: string): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "roomcast-prometheus-"));
  const config = join(dir, "prometheus.yml");
  await writeFile(config, configText);
  execFileSync("promtool", ["check", "config", config], { stdio: "pipe" });
  const port = await freePort();
  const child: ChildProcess = spawn(
    "prometheus",
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const base = `http://127.0.0.1:${port}`;
  await waitUntil(
    () =>
      fetch(`${base}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ),
    "Prometheus to be ready",
    30_000,
  );
  const series = async (promql: string) => {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    if (body.status !== "success") throw new Error(`PromQL ${promql}: ${body.error ?? response.status}`);
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  return {
    base,
    series,
    async query(promql) {
      return (await series(promql))[0]?.value;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
