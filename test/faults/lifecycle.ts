// Shared by the fault tests: teardown in reverse order of setup, and pauses.
import { afterAll } from "vitest";

/** Registers teardown steps that run after the file's tests, last first. */
export function teardownAfterAll(): (step: () => Promise<void> | void) => void {
  const steps: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step) => void steps.push(step);
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
