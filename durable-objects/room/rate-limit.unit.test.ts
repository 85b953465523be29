import { describe, expect, it } from "vitest";
import { MAX_STRIKES, MessageBudget } from "./rate-limit.ts";

describe("MessageBudget", () => {
  const limits = { rateLimitPerSecond: 10, rateLimitBurst: 20 };

  it("holds one user's sockets and REST publishes to one bucket, and other users to their own", () => {
    const budget = new MessageBudget(limits);
    const tab1 = {};
    const tab2 = {};
    for (let i = 0; i < 8; i++) expect(budget.frame(tab1, "alice", 0)).toBe("pass");
    for (let i = 0; i < 8; i++) expect(budget.frame(tab2, "alice", 0)).toBe("pass");
    for (let i = 0; i < 4; i++) expect(budget.publish("alice", 0)).toBe(0);
    expect(budget.frame(tab1, "alice", 0)).toBe("refuse");
    expect(budget.frame(tab2, "alice", 0)).toBe("refuse");
    // One token back after 100 ms: a publish must wait at most that, rounded up to a whole second.
    expect(budget.publish("alice", 0)).toBe(1);
    expect(budget.frame({}, "bob", 0)).toBe("pass");
    expect(budget.publish("alice", 100)).toBe(0);
  });

  it("closes the socket that keeps pushing, not the user's other tabs, and forgives after a quiet second", () => {
    const budget = new MessageBudget(limits);
    const noisy = {};
    const quiet = {};
    let now = 0;
    for (let i = 0; i < 20; i++) budget.frame(noisy, "alice", now);
    // Pushing at 50/s against a 10/s budget: refusals pile up despite refills.
    const verdicts: string[] = [];
    while (!verdicts.includes("close") && now < 5000) {
      now += 20;
      verdicts.push(budget.frame(noisy, "alice", now));
    }
    expect(verdicts.filter((v) => v === "refuse").length).toBe(MAX_STRIKES - 1);
    // The other tab's frame may be refused while the bucket is empty, but it has no strikes of its own.
    expect(budget.frame(quiet, "alice", now)).toBe("refuse");
    now += 1500;
    expect(budget.frame(noisy, "alice", now)).toBe("pass");
    // Forgiven: once the bucket is empty again, the next refusal is a first strike, not a close.
    let verdict = "pass";
    while (verdict === "pass") verdict = budget.frame(noisy, "alice", now);
    expect(verdict).toBe("refuse");
  });
});
