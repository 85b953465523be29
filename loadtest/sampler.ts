// Once a second, on the run's second boundaries: CPU and resident memory of
// the server's processes (/proc) and this process's CPU (all worker threads).
import { sampleProcesses, type ProcSample, type ServerProcess } from "./server-probe.ts";
import type { Result } from "./result.ts";
import { nowMs } from "./stats.ts";

/** The figures of one second; CPU in percent of one core. */
export interface SecondSample {
  serverCpuPct: number | null;
  serverRssMB: number | null;
  clientCpuPct: number;
}

const MB = 1024 * 1024;

/** Samples until stopped. */
export class Sampler {
  readonly #processes: readonly ServerProcess[];
  readonly #samples = new Map<number, SecondSample>();
  readonly #baseline: ProcSample | null;
  #last: { at: number; server: ProcSample | null; client: number };
  #rssMax = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #second = -1;

  /** Takes the baseline now; the first second starts at `startAt` (epoch ms). */
  constructor(processes: readonly ServerProcess[], startAt: number) {
    this.#processes = processes;
    this.#baseline = processes.length ? sampleProcesses(processes) : null;
    this.#rssMax = this.#baseline?.rssBytes ?? 0;
    this.#last = { at: nowMs(), server: this.#baseline, client: this.#cpu() };
    const next = () => {
      this.#timer = setTimeout(
        () => {
          this.#take();
          next();
        },
        Math.max(0, startAt + (this.#second + 1) * 1000 - nowMs()),
      );
    };
    next();
  }

  #cpu(): number {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  }

  #take(): void {
    const at = nowMs();
    const server = this.#processes.length ? sampleProcesses(this.#processes) : null;
    const client = this.#cpu();
    const elapsed = Math.max(0.001, (at - this.#last.at) / 1000);
    if (this.#second >= 0) {
      const previous = this.#last.server;
      this.#samples.set(this.#second, {
        serverCpuPct: server && previous ? (100 * (server.cpuSeconds - previous.cpuSeconds)) / elapsed : null,
        serverRssMB: server ? server.rssBytes / MB : null,
        clientCpuPct: (100 * (client - this.#last.client)) / elapsed,
      });
    }
    if (server) this.#rssMax = Math.max(this.#rssMax, server.rssBytes);
    this.#last = { at, server, client };
    this.#second += 1;
  }

  /** The figures of second `n`, once it has passed. */
  at(second: number): SecondSample | undefined {
    return this.#samples.get(second);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  clientAvgPct(): number {
    const values = [...this.#samples.values()].map((s) => s.clientCpuPct);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0;
  }

  clientMaxPct(): number {
    return Math.max(0, ...[...this.#samples.values()].map((s) => s.clientCpuPct));
  }

  /** The server's CPU and memory over the run; null when no process was sampled. */
  summary(peakSockets: number): Result["server"] {
    if (!this.#baseline) return null;
    const cpu = [...this.#samples.values()].map((s) => s.serverCpuPct ?? 0);
    const grown = this.#rssMax - this.#baseline.rssBytes;
    return {
      processes: [...this.#processes],
      cpuAvgPct: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : 0,
      cpuMaxPct: Math.max(0, ...cpu),
      rssBaselineMB: this.#baseline.rssBytes / MB,
      rssMaxMB: this.#rssMax / MB,
      memoryPerSocketKB: peakSockets > 0 ? grown / 1024 / peakSockets : null,
    };
  }
}
