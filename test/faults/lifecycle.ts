// Shared by the fault tests: teardown in reverse order of setup, and pauses.
import { afterAll } from "vitest";

/** The JWT secret every fault test's server runs with. */
export const FAULT_SECRET = "fault-tests-secret-fault-tests-secret";

/** Registers a teardown step; returned by {@link teardownAfterAll}. */
export type Cleanup = (step: () => Promise<void> | void) => void;

/**
 * Registers teardown steps that run after the file's tests, last first. Every
 * step runs even when an earlier one fails (a leftover server would skew the
 * next test's figures); the first failure is reported after all have run.
 */
export function teardownAfterAll(): Cleanup {
  const steps: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    const failures: unknown[] = [];
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  });
  return (step) => void steps.push(step);
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
