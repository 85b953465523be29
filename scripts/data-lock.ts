// One `npm start` per data directory. Two would open the same embedded
// PostgreSQL files (PGlite has no lock of its own: both started, and both
// wrote) and the same room storage. The supervisor holds
// `$ROOMCAST_DATA_DIR/roomcast.pid` while it runs; a file left by one that
// was killed names a process that is gone, or one that is not ours, and is
// taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** True when `pid` runs this project's start script (not a later process that reused the number). */
function isSupervisor(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
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
  const file = join(dataDir, "roomcast.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      process.once("exit", () => {
        try {
          if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
        } catch {
          // Already gone.
        }
      });
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(file, "utf8").trim());
      } catch {
        // Removed in between: try again.
      }
      if (isSupervisor(holder)) return holder;
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take ${file}`);
}
