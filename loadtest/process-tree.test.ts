// The processes the bench samples and stops: a server's own process tree,
// never the load test's own process group or its ancestors.
import { spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { killTree, spawnServer, stopServer } from "./baselines/serve.ts";
import { findServerProcesses, isRunning, ownProcessGroup, processTree, type SeenProcess } from "./server-probe.ts";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A Node server on a free port that also starts `sleep` in a process group of its own (as roomcast's supervisor runs workerd). */
const SERVER = `
const { spawn } = require("node:child_process");
spawn("sleep", ["60"], { detached: true, stdio: "ignore" });
require("node:http").createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", function () {
  process.stdout.write(String(this.address().port) + "\\n");
});
process.on("SIGTERM", () => process.exit(0));
`;

let left: SeenProcess[] = [];
afterEach(() => {
  killTree(left);
  left = [];
});

async function portOf(child: { stdout: NodeJS.ReadableStream | null }): Promise<number> {
  return new Promise((resolve) => child.stdout?.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))));
}

/** The tree once it has `size` processes and the `sleep` has exec'd (between fork and exec the child is still called `node`). */
async function treeOf(pid: number, size: number): Promise<SeenProcess[]> {
  for (let i = 0; i < 100; i += 1) {
    const tree = processTree(pid);
    if (tree.length >= size && tree.some((p) => p.comm === "sleep")) return tree;
    await sleep(50);
  }
  return processTree(pid);
}

describe("server process tree", () => {
  it("is the server and its descendants, across process groups; stopServer leaves none", async () => {
    const child = spawnServer(process.execPath, ["-e", SERVER]);
    const tree = await treeOf(child.pid ?? 0, 2);
    left = tree;
    expect(tree[0]?.pid).toBe(child.pid);
    expect(tree.map((p) => p.comm)).toContain("sleep");
    // The server's group is its own, and the sleep's is another one.
    expect(new Set(tree.map((p) => p.pgrp)).size).toBe(2);
    expect(tree.some((p) => p.pgrp === ownProcessGroup())).toBe(false);
    // SIGTERM to the server's group ends the node process; the sleep, in another group, is killed after the grace.
    await stopServer(child, 500);
    expect(tree.filter(isRunning)).toEqual([]);
  });

  it("found by port: a listener in our own process group is sampled alone with its descendants", async () => {
    const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await portOf(child);
    const tree = await treeOf(child.pid ?? 0, 2);
    left = tree;
    const found = findServerProcesses([port], () => {});
    expect(found.map((p) => p.pid).sort()).toEqual(tree.map((p) => p.pid).sort());
    expect(found.map((p) => p.pid)).not.toContain(process.pid);
    expect(found.map((p) => p.pid)).not.toContain(process.ppid);
  });

  it("found by port: a listener in a group of its own brings that group", async () => {
    const child = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"], detached: true });
    const port = await portOf(child);
    const tree = await treeOf(child.pid ?? 0, 2);
    left = tree;
    const found = findServerProcesses([port], () => {});
    // Only the listener's group: the sleep it started in a group of its own is not found by port.
    expect(found.map((p) => p.pid)).toEqual([child.pid]);
  });
});
