// What the load test reads from the server side: the server's processes in
// /proc (CPU time and resident memory, found from the listening port, given
// with --server-pid, or, for `npm run bench`, the process tree of the server
// it started), and the auth_validate_seconds histogram from the metrics
// socket, scraped before and after the run.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A server process being sampled. */
export interface ServerProcess {
  pid: number;
  comm: string;
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function pids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** What /proc/<pid>/stat says about a process. */
interface Stat {
  comm: string;
  /** R, S, D, Z (zombie: exited, not yet reaped)… */
  state: string;
  ppid: number;
  pgrp: number;
  /** User and system CPU ticks. */
  ticks: number;
  /** Clock ticks after boot at which it started: with the pid, tells a process from a later one that reuses its pid. */
  startTime: number;
}

function stat(pid: number): Stat | undefined {
  const text = read(`/proc/${pid}/stat`);
  if (!text) return undefined;
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  // Fields after the comm: state(3) ppid(4) pgrp(5) … utime(14) stime(15) … starttime(22).
  const fields = text.slice(close + 2).split(" ");
  return {
    comm,
    state: fields[0] ?? "?",
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    ticks: Number(fields[11]) + Number(fields[12]),
    startTime: Number(fields[19]),
  };
}

/** Every process now, with its stat. */
function table(): Map<number, Stat> {
  const all = new Map<number, Stat>();
  for (const pid of pids()) {
    const info = stat(pid);
    if (info) all.set(pid, info);
  }
  return all;
}

/** `root` and its descendants (children, their children…) in `all`, root first. */
function descendants(root: number, all: Map<number, Stat>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, info] of all) {
    const siblings = children.get(info.ppid);
    if (siblings) siblings.push(pid);
    else children.set(info.ppid, [pid]);
  }
  const tree: number[] = all.has(root) ? [root] : [];
  for (let i = 0; i < tree.length; i += 1) {
    for (const child of children.get(tree[i] ?? 0) ?? []) if (!tree.includes(child)) tree.push(child);
  }
  return tree;
}

/** This process and its ancestors (the shell, npm, timeout…): never the server's. */
function selfAndAncestors(all: Map<number, Stat>): Set<number> {
  const mine = new Set<number>();
  for (let pid = process.pid; pid > 1 && !mine.has(pid); pid = all.get(pid)?.ppid ?? 0) mine.add(pid);
  return mine;
}

/** A process as it was seen: pid, comm and start time, so that a reused pid is not taken for it. */
export interface SeenProcess extends ServerProcess {
  pgrp: number;
  startTime: number;
}

/**
 * A server's process tree: `root` (the process the bench started) and every
 * descendant, each whatever its process group (roomcast's supervisor runs
 * workerd in a group of its own). Empty when `root` is gone.
 */
export function processTree(root: number): SeenProcess[] {
  const all = table();
  return descendants(root, all).map((pid) => {
    const info = all.get(pid) as Stat;
    return { pid, comm: info.comm, pgrp: info.pgrp, startTime: info.startTime };
  });
}

/** True while `p` runs (an unreaped zombie has exited and counts as gone). */
export function isRunning(p: SeenProcess): boolean {
  const info = stat(p.pid);
  return info !== undefined && info.startTime === p.startTime && info.state !== "Z";
}

/** This process's own process group. */
export function ownProcessGroup(): number {
  return stat(process.pid)?.pgrp ?? -1;
}

/** Socket inodes listening on a TCP port (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of (read(file) ?? "").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (!local || cols[3] !== "0A") continue;
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port && cols[9]) inodes.add(cols[9]);
    }
  }
  return inodes;
}

/**
 * The processes serving the given ports: the one holding each listening
 * socket, and the rest of its process group (wrangler dev runs its Worker in
 * a second workerd beside the one that listens); but when that group is this
 * load test's own (a server started from the same script without a group of
 * its own), only the listener and its descendants. Never this process or its
 * ancestors (npm, the shell). Falls back to every `workerd` on the machine,
 * which `warn` reports.
 */
export function findServerProcesses(ports: number[], warn: (text: string) => void): ServerProcess[] {
  const wanted = new Set<string>();
  for (const port of ports) for (const inode of listeningInodes(port)) wanted.add(`socket:[${inode}]`);
  const all = table();
  const listeners: number[] = [];
  if (wanted.size > 0) {
    for (const pid of all.keys()) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue;
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (wanted.has(link)) {
          listeners.push(pid);
          break;
        }
      }
    }
  }
  const mine = selfAndAncestors(all);
  const ownGroup = all.get(process.pid)?.pgrp;
  const chosen = new Set<number>();
  for (const listener of listeners) {
    const group = all.get(listener)?.pgrp;
    if (group !== undefined && group !== ownGroup) {
      for (const [pid, info] of all) if (info.pgrp === group) chosen.add(pid);
    } else {
      for (const pid of descendants(listener, all)) chosen.add(pid);
    }
  }
  const found = [...chosen].filter((pid) => !mine.has(pid)).sort((a, b) => a - b);
  if (found.length > 0) return found.map((pid) => ({ pid, comm: all.get(pid)?.comm ?? "?" }));
  const workerd = [...all].filter(([, info]) => info.comm === "workerd").map(([pid]) => pid);
  if (workerd.length > 0) {
    warn(
      `no local process listens on port(s) ${ports.join(", ")}; sampling every workerd process (${workerd.join(", ")}); pass --server-pid to choose`,
    );
  } else {
    warn("no server process found: server CPU and memory are not measured (pass --server-pid)");
  }
  return workerd.map((pid) => ({ pid, comm: "workerd" }));
}

/** The comm of a pid given with --server-pid, or undefined if it does not exist. */
export function describePid(pid: number): ServerProcess | undefined {
  const info = stat(pid);
  return info ? { pid, comm: info.comm } : undefined;
}

/** The soft open-file limit of a process ("self" for this one). */
export function openFileLimit(pid: number | "self"): number | undefined {
  const line = (read(`/proc/${pid}/limits`) ?? "").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  if (soft === undefined) return undefined;
  return soft === "unlimited" ? Infinity : Number(soft);
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** CPU seconds and resident bytes of a set of processes, summed. */
export interface ProcSample {
  cpuSeconds: number;
  rssBytes: number;
}

/** Reads /proc for the processes now (vanished ones count zero). */
export function sampleProcesses(processes: readonly ServerProcess[]): ProcSample {
  let ticks = 0;
  let rssKb = 0;
  for (const { pid } of processes) {
    ticks += stat(pid)?.ticks ?? 0;
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(read(`/proc/${pid}/status`) ?? "")?.[1];
    rssKb += Number(rss ?? 0);
  }
  return { cpuSeconds: ticks / ticksPerSecond(), rssBytes: rssKb * 1024 };
}

/** A Prometheus histogram as scraped: cumulative buckets by upper bound. */
export interface PromHistogram {
  buckets: [number, number][];
  sum: number;
  count: number;
}

/** Scrapes one histogram (summed over label sets) and the named gauges; undefined if the scrape fails. */
export async function scrapeMetrics(
  urls: readonly string[],
  token: string | undefined,
  histogram: string,
  gauges: readonly string[],
): Promise<{ histogram: PromHistogram; gauges: Record<string, number> } | undefined> {
  const buckets = new Map<number, number>();
  let sum = 0;
  let count = 0;
  const values: Record<string, number> = {};
  for (const url of urls) {
    let text: string;
    try {
      const response = await fetch(url, {
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        signal: AbortSignal.timeout(5000),
      });
      if (!response.ok) return undefined;
      text = await response.text();
    } catch {
      return undefined;
    }
    for (const line of text.split("\n")) {
      if (line.startsWith("#")) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const [, name, labels = "", raw] = match;
      const value = Number(raw);
      if (name === `${histogram}_bucket`) {
        const le = /le="([^"]+)"/.exec(labels)?.[1];
        if (le !== undefined) {
          const bound = le === "+Inf" ? Infinity : Number(le);
          buckets.set(bound, (buckets.get(bound) ?? 0) + value);
        }
      } else if (name === `${histogram}_sum`) sum += value;
      else if (name === `${histogram}_count`) count += value;
      else if (name && gauges.includes(name)) values[name] = (values[name] ?? 0) + value;
    }
  }
  return { histogram: { buckets: [...buckets.entries()].sort((a, b) => a[0] - b[0]), sum, count }, gauges: values };
}

/** after − before, bucket by bucket. */
export function histogramDelta(before: PromHistogram, after: PromHistogram): PromHistogram {
  const earlier = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, n]) => [le, n - (earlier.get(le) ?? 0)]),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** Prometheus's histogram_quantile: linear inside the bucket; the highest finite bound for +Inf. */
export function promQuantile(histogram: PromHistogram, q: number): number {
  if (histogram.count <= 0) return 0;
  const rank = q * histogram.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [le, cumulative] of histogram.buckets) {
    if (cumulative >= rank) {
      if (le === Infinity) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket > 0 ? lowerBound + ((le - lowerBound) * (rank - lowerCount)) / inBucket : le;
    }
    lowerBound = le;
    lowerCount = cumulative;
  }
  return lowerBound;
}
