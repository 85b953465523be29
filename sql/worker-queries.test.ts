import { describe, expect, it } from "vitest";
import { isQueryName, viaRunner } from "./worker-queries.ts";

describe("the Worker's named queries", () => {
  it("accepts only the Worker's query names over RPC, not other exports or object keys", () => {
    expect(isQueryName("findRoomAccess")).toBe(true);
    expect(isQueryName("ping")).toBe(true);
    for (const name of ["insertMessages", "claimLease", "__proto__", "constructor", "toString", ""]) expect(isQueryName(name)).toBe(false);
  });

  it("forwards each query's name and arguments to the runner and returns its answer", async () => {
    const calls: [string, readonly unknown[]][] = [];
    const queries = viaRunner(async (name, args) => {
      calls.push([name, args]);
      return null;
    });
    expect(await queries.findRoomAccess("room-1", "user-1")).toBeNull();
    await queries.ping();
    expect(calls).toEqual([
      ["findRoomAccess", ["room-1", "user-1"]],
      ["ping", []],
    ]);
  });
});
