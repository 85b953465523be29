// A worker thread of the load test: runs the virtual users of the rooms it
// was given, follows the stages, and posts one Tick per second.
import { performance as nodePerformance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { RoomTracker } from "./room-tracker.ts";
import { targetAt, type Scenario } from "./scenario.ts";
import { nowMs, Recorder, type FromWorker, type ToWorker } from "./stats.ts";
import { VirtualUser, type RoomSlot, type VuContext } from "./vu.ts";

/** What the main thread gives each worker. */
export interface WorkerInit {
  worker: number;
  scenario: Scenario;
  /** Epoch ms at which the stages begin (second 0). */
  startAt: number;
  totalRooms: number;
  rooms: { id: string; url: string; users: { vu: number; token: string }[] }[];
}

const SCHEDULE_MS = 100;
const SEND_TICK_MS = 5;
const STOP_WAIT_MS = 7000;

function post(message: FromWorker): void {
  parentPort?.postMessage(message);
}

/** The worker's whole life: start at startAt, stop when told. */
function run(init: WorkerInit): void {
  const { scenario, worker } = init;
  const workload = scenario.workload;
  const bodyBytes = workload.kind === "hold" ? 16 : workload.bodyBytes;
  const ctx: VuContext = {
    recorder: new Recorder(),
    workload,
    pending: new Map(),
    stopping: false,
    sockets: 0,
    // `{"t":1764230000000.123,"p":""}` is about 30 characters.
    padding: "x".repeat(Math.max(0, bodyBytes - 30)),
  };
  const rooms: RoomSlot[] = [];
  const users: VirtualUser[] = [];
  for (const room of init.rooms) {
    const slot: RoomSlot = { id: room.id, url: room.url, tracker: new RoomTracker(), open: [] };
    rooms.push(slot);
    for (const user of room.users) users.push(new VirtualUser(user.vu, slot, user.token, ctx));
  }
  users.sort((a, b) => a.index - b.index);

  // Follow the stages: user i runs while the stage asks for more than i users.
  const schedule = setInterval(() => {
    if (ctx.stopping) return;
    const target = targetAt(scenario.stages, nowMs() - init.startAt);
    for (const user of users) {
      if (user.index < target) user.start();
      else if (user.active) user.stop();
    }
  }, SCHEDULE_MS);

  // One Tick per second of the run, on the same second boundaries in every worker.
  let second = 0;
  let tickTimer: ReturnType<typeof setTimeout> | undefined;
  let loopBefore = nodePerformance.eventLoopUtilization();
  const flush = () => {
    const now = nowMs();
    for (const [id, sent] of ctx.pending) {
      if (now - sent < scenario.ackTimeout) break;
      ctx.pending.delete(id);
      ctx.recorder.error("ack_timeout");
    }
    for (const room of rooms) room.tracker.prune();
    const vus = users.reduce((n, u) => n + (u.active ? 1 : 0), 0);
    const loop = nodePerformance.eventLoopUtilization(loopBefore);
    loopBefore = nodePerformance.eventLoopUtilization();
    post({ type: "tick", tick: ctx.recorder.flush(second, worker, vus, ctx.sockets, loop.utilization) });
    second += 1;
  };
  const nextTick = () => {
    tickTimer = setTimeout(
      () => {
        flush();
        nextTick();
      },
      Math.max(0, init.startAt + (second + 1) * 1000 - nowMs()),
    );
  };
  nextTick();

  // Fanout: the main thread sets the total rate; this worker sends its rooms' share.
  let sender: ReturnType<typeof setInterval> | undefined;
  const setRate = (perSecond: number) => {
    clearInterval(sender);
    const mine = (perSecond * rooms.length) / Math.max(1, init.totalRooms);
    if (mine <= 0 || rooms.length === 0) return;
    let budget = 0;
    let last = performance.now();
    sender = setInterval(() => {
      const now = performance.now();
      budget = Math.min(mine, budget + (mine * (now - last)) / 1000);
      last = now;
      while (budget >= 1) {
        budget -= 1;
        const room = rooms[Math.floor(Math.random() * rooms.length)];
        const user = room?.open[Math.floor(Math.random() * room.open.length)];
        if (user) user.send();
        else ctx.recorder.error("fanout_no_open_socket");
      }
    }, SEND_TICK_MS);
  };

  const stop = async () => {
    if (ctx.stopping) return;
    ctx.stopping = true;
    clearInterval(sender);
    clearInterval(schedule);
    await new Promise((r) => setTimeout(r, scenario.drain));
    for (const user of users) user.stop();
    const deadline = Date.now() + STOP_WAIT_MS;
    while (users.some((u) => u.busy) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    clearTimeout(tickTimer);
    flush();
    post({ type: "done", worker, unackedAtEnd: ctx.pending.size });
  };

  parentPort?.on("message", (message: ToWorker) => {
    if (message.type === "rate") setRate(message.perSecond);
    else if (message.type === "stop") void stop();
  });
}

try {
  // Posted by runner.ts of this same checkout.
  run(workerData as WorkerInit);
} catch (error) {
  post({ type: "fatal", worker: -1, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
}
