import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.ts";

/** A write that waits until the test lets it finish. */
function gatedWrite() {
  const calls: number[][] = [];
  const gates: (() => void)[] = [];
  const write = async (items: number[]) => {
    calls.push(items);
    await new Promise<void>((resolve) => gates.push(resolve));
    return items.map((i) => i * 10);
  };
  const open = () => gates.shift()?.();
  return { calls, write, open };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("Batcher (group commit)", () => {
  it("writes a lone item at once, and what queues behind a write in flight as one next batch", async () => {
    const { calls, write, open } = gatedWrite();
    const batcher = new Batcher(write, { maxItems: 100, concurrency: 1 });
    const first = batcher.submit(1);
    await tick();
    expect(calls).toEqual([[1]]);
    const rest = [2, 3, 4].map((i) => batcher.submit(i));
    await tick();
    expect(calls).toEqual([[1]]);
    expect(batcher.queued).toBe(3);
    open();
    expect(await first).toBe(10);
    await tick();
    expect(calls).toEqual([[1], [2, 3, 4]]);
    open();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(batcher.stats).toEqual({ batches: 2, items: 4, largest: 3 });
  });

  it("caps a batch at maxItems and keeps at most `concurrency` writes in flight", async () => {
    const { calls, write, open } = gatedWrite();
    const batcher = new Batcher(write, { maxItems: 2, concurrency: 2 });
    const all = [1, 2, 3, 4, 5, 6].map((i) => batcher.submit(i));
    await tick();
    // Each submit finds a free write until two are in flight; the rest queue.
    expect(calls).toEqual([[1], [2]]);
    expect(batcher.queued).toBe(4);
    open();
    await tick();
    await tick();
    expect(calls).toEqual([[1], [2], [3, 4]]);
    for (let i = 0; i < 4; i++) {
      open();
      await tick();
      await tick();
    }
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("rejects every item of a failed batch and no other", async () => {
    let fail = true;
    const batcher = new Batcher(
      async (items: number[]) => {
        await tick();
        if (fail) {
          fail = false;
          throw new Error("write failed");
        }
        return items;
      },
      { maxItems: 10, concurrency: 1 },
    );
    const first = batcher.submit(1);
    const second = batcher.submit(2);
    await expect(first).rejects.toThrow("write failed");
    expect(await second).toBe(2);
  });

  it("refuses an answer that does not have one result per item", async () => {
    const d = new Batcher(async (items: number[]) => items.slice(1), { maxItems: 10, concurrency: 1 });
    await expect(d.submit(1)).rejects.toThrow("answered 0 results for 1 items");
  });
});
