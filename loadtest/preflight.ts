// Before any user is set up: the client's open-file limit, the servers'
// health, which processes to sample (and their open-file limits), and the
// first scrape of the metrics. Problems that would spoil the run stop it
// (SetupError); doubtful ones become notes.
import type { RunOptions } from "./runner.ts";
import { describePid, findServerProcesses, openFileLimit, scrapeMetrics, type PromHistogram, type ServerProcess } from "./server-probe.ts";
import { SetupError } from "./setup.ts";
import type { Target } from "./targets.ts";

/** What the checks found. */
export interface Preflight {
  /** This process's soft open-file limit (null: unknown). */
  limit: number | null;
  processes: ServerProcess[];
  /** auth_validate_seconds before the run; undefined without (working) --metrics-url. */
  before: { histogram: PromHistogram; gauges: Record<string, number> } | undefined;
}

/** Runs the checks for a run of `vus` sockets. */
export async function preflight(
  targets: readonly Target[],
  vus: number,
  options: RunOptions,
  note: (text: string) => void,
  log: (text: string) => void,
): Promise<Preflight> {
  // Every socket is a file descriptor of this process.
  const limit = openFileLimit("self") ?? null;
  if (limit !== null && limit < vus + 128) {
    throw new SetupError(
      `open-file limit ${limit} is below the ${vus + 128} this run needs (${vus} sockets + 128); raise it with \`ulimit -n ${Math.max(vus * 2, 4096)}\` in the shell that runs the load test`,
    );
  }
  if (limit !== null && limit < vus * 1.2 + 128) note(`open-file limit ${limit} leaves little room above ${vus} sockets`);

  for (const target of targets) {
    const ok = await fetch(`${target.base}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (!ok) throw new SetupError(`${target.base}/healthz does not answer 200; is the server running?`);
  }

  let processes: ServerProcess[] = [];
  if (options.serverPids?.length) {
    for (const pid of options.serverPids) {
      const found = describePid(pid);
      if (found) processes.push(found);
      else note(`--server-pid ${pid}: no such process`);
    }
  } else {
    const local = targets.filter((t) => ["127.0.0.1", "localhost", "[::1]"].includes(new URL(t.base).hostname));
    if (local.length > 0)
      processes = findServerProcesses(
        local.map((t) => Number(new URL(t.base).port || 80)),
        note,
      );
  }
  if (processes.length > 0) log(`server processes: ${processes.map((p) => `${p.pid} (${p.comm})`).join(", ")}`);
  for (const p of processes) {
    const serverLimit = openFileLimit(p.pid);
    if (p.comm === "workerd" && serverLimit !== undefined && serverLimit < 2 * vus + 512) {
      note(
        `server process ${p.pid} has an open-file limit of ${serverLimit}; workerd needs about 2 per socket (${2 * vus + 512} for this run)`,
      );
    }
  }

  const metricsUrls = options.metricsUrls ?? [];
  const before = metricsUrls.length
    ? await scrapeMetrics(metricsUrls, options.metricsToken, "auth_validate_seconds", ["websocket_connections_limit"])
    : undefined;
  if (metricsUrls.length && !before) note(`metrics ${metricsUrls.join(", ")} could not be scraped: auth latency is n/a`);
  const serverCap = before?.gauges.websocket_connections_limit;
  if (serverCap && serverCap < vus) {
    note(`the servers' MAX_CONNECTIONS (${serverCap} in all) is below the ${vus} sockets of this run; upgrades past it answer 503`);
  }
  return { limit, processes, before };
}
