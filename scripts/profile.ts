// `npm run profile -- [--inspector 127.0.0.1:9229] [--seconds 20] [--out file.cpuprofile]`:
// a V8 CPU profile of a running self-hosted workerd started with
// WORKERD_INSPECTOR=<addr> (scripts/start.ts passes it as --inspector-addr).
// Writes the .cpuprofile (open it in Chrome DevTools) and prints the
// functions with the most self time, to see where a load test's CPU goes.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import WebSocket from "ws";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values } = parseArgs({
  options: {
    inspector: { type: "string", default: "127.0.0.1:9229" },
    seconds: { type: "string", default: "20" },
    out: { type: "string", default: "workerd.cpuprofile" },
    top: { type: "string", default: "30" },
  },
});

const targets = (await (await fetch(`http://${values.inspector}/json/list`)).json()) as { webSocketDebuggerUrl?: string; title?: string }[];
const target = targets.find((t) => t.webSocketDebuggerUrl);
if (!target?.webSocketDebuggerUrl) throw new Error(`no inspector target at ${values.inspector}`);
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
let nextId = 1;
const pending = new Map<number, (result: unknown) => void>();
ws.on("message", (data) => {
  const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
  if (message.id !== undefined) pending.get(message.id)?.(message.result);
});
const call = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 200 });
await call("Profiler.start");
console.error(`profile: sampling ${target.title ?? "workerd"} for ${values.seconds} s`);
await new Promise((r) => setTimeout(r, Number(values.seconds) * 1000));
const { profile } = (await call("Profiler.stop")) as { profile: Profile };
ws.close();
await writeFile(values.out, JSON.stringify(profile));

// Self time per function (by name and place), from the samples.
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, i) => {
  const node = byId.get(id);
  const ms = (profile.timeDeltas[i] ?? 0) / 1000;
  total += ms;
  if (!node) return;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + ms);
});
const rows = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
console.log(`profile: ${total.toFixed(0)} ms sampled; written to ${values.out}`);
for (const [name, ms] of rows) console.log(`${((ms / total) * 100).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${name}`);
