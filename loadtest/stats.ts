// What the worker threads report each second, the messages between the main
// thread and the workers, and the main thread's per-second aggregation.
import { Histogram, type HistogramData } from "./histogram.ts";

/** Counters of one second (or of a whole run, once added up). */
export interface Counts {
  /** Upgrades answered 101. */
  connects: number;
  connectFailures: number;
  /** Messages sent (send frames). */
  sent: number;
  acked: number;
  /** Message frames received by all sockets, the sender's own copy included. */
  received: number;
  /** Messages a connected member should have received and did not (see room-tracker.ts). */
  lost: number;
  duplicates: number;
  /** Closes the client did not start (server close, dropped connection). */
  unexpectedCloses: number;
  /** Our close got no answer within 5 s, so the socket was terminated. */
  closeTimeouts: number;
  /** Everything counted in the errors breakdown. */
  errors: number;
}

export function emptyCounts(): Counts {
  return {
    connects: 0,
    connectFailures: 0,
    sent: 0,
    acked: 0,
    received: 0,
    lost: 0,
    duplicates: 0,
    unexpectedCloses: 0,
    closeTimeouts: 0,
    errors: 0,
  };
}

/** Adds `from` into `into`. */
export function addCounts(into: Counts, from: Counts): void {
  for (const key of Object.keys(into) as (keyof Counts)[]) into[key] += from[key];
}

/** One worker's report of one second. */
export interface Tick {
  /** Seconds since the start of the stages; this tick covers [second, second + 1). */
  second: number;
  worker: number;
  /** Virtual users active and sockets open (welcomed, not closing) at the end of the second. */
  vus: number;
  sockets: number;
  /** Busy share of the worker's event loop over the second (0–1): near 1, the client is the bottleneck. */
  loop: number;
  counts: Counts;
  errorsByKind: Record<string, number>;
  e2e: HistogramData;
  connect: HistogramData;
  ack: HistogramData;
}

/** Main thread → worker. */
export type ToWorker = { type: "rate"; perSecond: number } | { type: "stop" };

/** Worker → main thread. */
export type FromWorker =
  | { type: "tick"; tick: Tick }
  | { type: "done"; worker: number; unackedAtEnd: number }
  | { type: "fatal"; worker: number; message: string };

/** Checks the shape of a message from a worker (they run this same code, but a crash can post anything). */
export function isFromWorker(value: unknown): value is FromWorker {
  if (typeof value !== "object" || value === null || !("type" in value)) return false;
  return value.type === "tick" || value.type === "done" || value.type === "fatal";
}

/** One second of the whole run, all workers added up. */
export interface Second {
  second: number;
  workers: number;
  vus: number;
  sockets: number;
  /** The busiest worker's event-loop utilization. */
  loop: number;
  counts: Counts;
  errorsByKind: Record<string, number>;
  e2e: Histogram;
  connect: Histogram;
  ack: Histogram;
}

/** Adds up the workers' ticks per second and over the whole run. */
export class Timeline {
  readonly seconds = new Map<number, Second>();
  readonly totals = emptyCounts();
  readonly errorsByKind: Record<string, number> = {};
  readonly e2e = new Histogram();
  readonly connect = new Histogram();
  readonly ack = new Histogram();

  add(tick: Tick): void {
    let second = this.seconds.get(tick.second);
    if (!second) {
      second = {
        second: tick.second,
        workers: 0,
        vus: 0,
        sockets: 0,
        loop: 0,
        counts: emptyCounts(),
        errorsByKind: {},
        e2e: new Histogram(),
        connect: new Histogram(),
        ack: new Histogram(),
      };
      this.seconds.set(tick.second, second);
    }
    second.workers += 1;
    second.vus += tick.vus;
    second.sockets += tick.sockets;
    second.loop = Math.max(second.loop, tick.loop);
    addCounts(second.counts, tick.counts);
    addCounts(this.totals, tick.counts);
    for (const [kind, n] of Object.entries(tick.errorsByKind)) {
      second.errorsByKind[kind] = (second.errorsByKind[kind] ?? 0) + n;
      this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + n;
    }
    second.e2e.add(tick.e2e);
    second.connect.add(tick.connect);
    second.ack.add(tick.ack);
    this.e2e.add(tick.e2e);
    this.connect.add(tick.connect);
    this.ack.add(tick.ack);
  }

  /** The seconds in order. */
  ordered(): Second[] {
    return [...this.seconds.values()].sort((a, b) => a.second - b.second);
  }

  /** The latest second every one of `workers` has reported. */
  complete(workers: number): Second | undefined {
    let best: Second | undefined;
    for (const second of this.seconds.values()) {
      if (second.workers >= workers && (!best || second.second > best.second)) best = second;
    }
    return best;
  }

  /** The seconds in [from, to), merged. */
  range(from: number, to: number): { counts: Counts; e2e: Histogram; seconds: number; errorsByKind: Record<string, number> } {
    const counts = emptyCounts();
    const e2e = new Histogram();
    const errorsByKind: Record<string, number> = {};
    let seconds = 0;
    for (const second of this.seconds.values()) {
      if (second.second < from || second.second >= to) continue;
      seconds += 1;
      addCounts(counts, second.counts);
      e2e.add(second.e2e.data());
      for (const [kind, n] of Object.entries(second.errorsByKind)) errorsByKind[kind] = (errorsByKind[kind] ?? 0) + n;
    }
    return { counts, e2e, seconds, errorsByKind };
  }
}

/** Wall-clock time in ms with sub-ms precision (the send timestamp in message bodies). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** The worker's counters for the current second. */
export class Recorder {
  counts: Counts = emptyCounts();
  errorsByKind: Record<string, number> = {};
  e2e = new Histogram();
  connect = new Histogram();
  ack = new Histogram();

  error(kind: string): void {
    this.errorsByKind[kind] = (this.errorsByKind[kind] ?? 0) + 1;
    this.counts.errors += 1;
  }

  /** The second's report; starts the next second from zero. */
  flush(second: number, worker: number, vus: number, sockets: number, loop: number): Tick {
    const tick: Tick = {
      second,
      worker,
      vus,
      sockets,
      loop,
      counts: this.counts,
      errorsByKind: this.errorsByKind,
      e2e: this.e2e.data(),
      connect: this.connect.data(),
      ack: this.ack.data(),
    };
    this.counts = emptyCounts();
    this.errorsByKind = {};
    this.e2e = new Histogram();
    this.connect = new Histogram();
    this.ack = new Histogram();
    return tick;
  }
}
