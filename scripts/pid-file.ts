// A file that names the process holding something (a data directory, a test
// port): made with O_EXCL, removed when that process exits, and taken over
// when the process it names is gone (kill -9 leaves it behind).
import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** True when a process with this number runs (a zombie counts). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The files this process holds, removed at its exit. */
const held = new Set<string>();
process.once("exit", () => {
  for (const file of held) {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
  }
});

/**
 * Takes `file` for this process, or returns the pid that holds it. `holds`
 * says whether the pid a file names still holds it (by default: it runs);
 * a file naming one that does not is taken over.
 */
export function takePidFile(file: string, holds: (pid: number) => boolean = isAlive): number | undefined {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      held.add(file);
      return undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(file, "utf8").trim());
      } catch {
        // Removed in between: try again.
      }
      if (holder === process.pid || holds(holder)) return holder;
      rmSync(file, { force: true });
    }
  }
  throw new Error(`could not take ${file}`);
}
