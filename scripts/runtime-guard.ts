// The runtime's guard: `npm start` (scripts/start.ts) runs wrangler (or
// workerd) under this process, which leads the runtime's process group. The
// supervisor holds the other end of a socket on this process's fd 3 and never
// writes to it, so the socket reads EOF exactly when the supervisor is gone,
// however it ended (SIGHUP, SIGKILL, a crash). The guard then stops the whole
// group: SIGTERM, and SIGKILL after a grace period. Usage:
//   node scripts/runtime-guard.ts <program> [args...]
import { spawn } from "node:child_process";
import { Socket } from "node:net";
import { constants } from "node:os";

const GRACE_MS = 5000;
const [program, ...args] = process.argv.slice(2);
if (!program) {
  console.error("runtime-guard: no program given");
  process.exit(2);
}

// The terminal may be gone (SIGHUP): a failed write must not end the guard.
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

// The supervisor signals the whole group when it stops the runtime
// gracefully; the runtime answers those signals, the guard waits for it.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});

const child = spawn(program, args, { stdio: "inherit" });

let orphaned = false;
function killGroup(signal: NodeJS.Signals): void {
  try {
    process.kill(-process.pid, signal);
  } catch {
    // Already gone.
  }
}

const lifeline = new Socket({ fd: 3, readable: true, writable: false });
lifeline.on("error", () => {});
lifeline.on("data", () => {});
function supervisorGone(): void {
  if (orphaned) return;
  orphaned = true;
  process.stderr.write("roomcast: the supervisor is gone; stopping the runtime\n");
  killGroup("SIGTERM");
  setTimeout(() => killGroup("SIGKILL"), GRACE_MS).unref();
}
lifeline.on("end", supervisorGone);
lifeline.on("close", supervisorGone);

child.on("exit", (code, signal) => {
  // Orphaned: take whatever is left of the group (workerd), this guard included.
  if (orphaned) killGroup("SIGKILL");
  process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0));
});
