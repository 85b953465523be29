// One `npm start` per data directory. Two would open the same embedded
// PostgreSQL files (PGlite has no lock of its own: both started, and both
// wrote) and the same room storage. The supervisor holds
// `$ROOMCAST_DATA_DIR/roomcast.pid` while it runs; a file left by one that
// was killed names a process that is gone, or one that is not ours, and is
// taken over.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive, takePidFile } from "./pid-file.ts";

/** True when `pid` runs this project's start script (not a later process that reused the number). */
function isSupervisor(pid: number): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("start.ts");
  } catch {
    // No /proc (macOS): a live process with that number is taken as ours.
    return true;
  }
}

/**
 * Takes the data directory for this process, or returns the pid of the
 * `npm start` that holds it. The lock goes when this process exits.
 */
export function lockDataDir(dataDir: string): number | undefined {
  mkdirSync(dataDir, { recursive: true });
  return takePidFile(join(dataDir, "roomcast.pid"), isSupervisor);
}
