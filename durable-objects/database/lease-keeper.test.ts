import { describe, expect, it } from "vitest";
import type { HeldLease } from "../../sql/queries.ts";
import { LeaseKeeper, type LeaseEvent } from "./lease-keeper.ts";

describe("LeaseKeeper", () => {
  it("renews every held lease in one call, and tells only the rooms that lost theirs or are wanted", async () => {
    const calls: HeldLease[][] = [];
    const told: [string, number, LeaseEvent][] = [];
    const keeper = new LeaseKeeper(
      async (leases) => {
        calls.push(leases);
        return new Map([
          ["a", { wanted: false }],
          ["c", { wanted: true }],
        ]);
      },
      (room, epoch, event) => told.push([room, epoch, event]),
      [{ roomId: "a", epoch: 1 }],
    );
    keeper.hold({ roomId: "b", epoch: 4 });
    keeper.hold({ roomId: "c", epoch: 2 });
    expect(await keeper.tick()).toEqual({ renewed: 2, lost: 1, wanted: 1 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([
      { roomId: "a", epoch: 1 },
      { roomId: "b", epoch: 4 },
      { roomId: "c", epoch: 2 },
    ]);
    expect(told).toEqual([
      ["b", 4, "lost"],
      ["c", 2, "wanted"],
    ]);
    expect(keeper.size).toBe(2);
    expect(keeper.epochOf("b")).toBeUndefined();
  });

  it("does not drop a lease claimed again with a newer epoch while a renewal was in flight", async () => {
    let release: (() => void) | undefined;
    const told: string[] = [];
    const keeper = new LeaseKeeper(
      async () => {
        await new Promise<void>((r) => (release = r));
        return new Map();
      },
      (room, epoch, event) => told.push(`${room}@${epoch}:${event}`),
      [{ roomId: "a", epoch: 1 }],
    );
    const tick = keeper.tick();
    keeper.hold({ roomId: "a", epoch: 2 });
    await new Promise((r) => setTimeout(r, 0));
    release?.();
    expect(await tick).toEqual({ renewed: 0, lost: 0, wanted: 0 });
    expect(told).toEqual([]);
    expect(keeper.epochOf("a")).toBe(2);
  });

  it("drops only the epoch it holds, and makes no call with nothing held", async () => {
    let calls = 0;
    const keeper = new LeaseKeeper(
      async () => {
        calls += 1;
        return new Map();
      },
      () => {},
    );
    keeper.hold({ roomId: "a", epoch: 3 });
    expect(keeper.drop("a", 2)).toBe(false);
    expect(keeper.drop("a", 3)).toBe(true);
    expect(await keeper.tick()).toEqual({ renewed: 0, lost: 0, wanted: 0 });
    expect(calls).toBe(0);
  });
});
