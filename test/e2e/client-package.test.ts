// The client as its users get it: `npm pack` of the workspace (its prepack
// builds dist/ with tsc) installed into an empty project with npm, imported
// by a plain .mjs script on Node 22 that registers, logs in, creates a room,
// connects with connectRoom over the global WebSocket and sends; and a .ts
// file type-checked against the package's .d.ts alone.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, inject, it } from "vitest";
import { allOrStop, startServer, type RunningServer } from "../support/server.ts";

const run = promisify(execFile);
const repo = process.cwd();
let server: RunningServer | undefined;
let dir: string | undefined;

afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** npm as the npm running this test (npm test, npx) runs it, else the one on PATH. */
function npm(args: string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  const cli = process.env.npm_execpath;
  const [command, prefix] = cli?.endsWith(".js") ? [process.execPath, [cli]] : [cli ?? "npm", []];
  return run(command, [...prefix, ...args], { cwd, timeout: 60_000 });
}

/** Every file under `root`, relative to it. */
async function files(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1));
}

const script = `
import { connectRoom, RoomcastApi } from "@roomcast/client";
const [server, username] = process.argv.slice(2);
const api = new RoomcastApi({ server });
await api.register(username, "password-123");
const { token } = await api.login(username, "password-123");
const room = username + "-room";
await new RoomcastApi({ server, token: () => token }).createRoom({ id: room, type: "public" });
const client = connectRoom({ server, room, token: () => token });
await client.start();
const seq = await client.send("hello from the package");
console.log(JSON.stringify({ seq, state: client.state, presence: client.presence.size }));
client.stop();
`;

const typed = `
import { connectRoom, RoomcastApi, RoomcastApiError, RoomClientError, type ConnectionState, type Message } from "@roomcast/client";

const api = new RoomcastApi({ server: "http://127.0.0.1:8787", token: () => undefined });
const client = connectRoom({ server: "", room: "lobby", token: async () => "token", onMessage: (m: Message) => m.seq });
const state: ConnectionState = client.state;
const seq: Promise<number> = client.send("hi");
const page: Promise<Message[]> = api.messages("lobby", { before: 10, limit: 50 });
// @ts-expect-error: a body is a string
void client.send(42);
export const checks = [state, seq, page, RoomcastApiError, RoomClientError];
`;

it("npm pack of @roomcast/client installs into an empty project, connects and sends from a plain .mjs, and its types check", async () => {
  dir = await mkdtemp(join(tmpdir(), "roomcast-client-package-"));
  const packDir = dir;
  const [started] = await allOrStop<[RunningServer, Awaited<ReturnType<typeof npm>>]>([
    startServer({ DATABASE_URL: inject("databaseUrl") }),
    npm(["pack", "--workspace", "@roomcast/client", "--pack-destination", packDir], repo),
  ]);
  server = started;
  const tarballs = (await readdir(packDir)).filter((name) => name.endsWith(".tgz"));
  expect(tarballs).toEqual(["roomcast-client-0.1.0.tgz"]);

  const app = join(dir, "app");
  await mkdir(app);
  await writeFile(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await npm(["install", join(packDir, tarballs[0] ?? ""), "--prefer-offline", "--no-audit", "--no-fund"], app);
  const installed = await files(join(app, "node_modules/@roomcast/client"));
  expect(installed).toContain("dist/client/index.js");
  expect(installed).toContain("dist/client/index.d.ts");
  // Built JavaScript and declarations only: no sources, tests or test helpers.
  expect(installed.filter((f) => f !== "package.json" && !/\.(js|d\.ts)$/.test(f))).toEqual([]);
  expect(installed.filter((f) => /test|fake-/.test(f))).toEqual([]);
  expect((await readdir(join(app, "node_modules"))).filter((name) => !name.startsWith(".")).sort()).toEqual(["@roomcast", "zod"]);

  await writeFile(join(app, "chat.mjs"), script);
  const username = `pkg${Date.now().toString(36)}`;
  const { stdout } = await run(process.execPath, ["chat.mjs", server.base, username], { cwd: app, timeout: 30_000 });
  expect(JSON.parse(stdout)).toEqual({ seq: 1, state: "open", presence: 1 });

  await writeFile(join(app, "check.ts"), typed);
  await writeFile(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        // DOM only for zod's own declarations (URL); the package's need neither DOM nor Node types.
        lib: ["ES2023", "DOM"],
        types: [],
        skipLibCheck: false,
      },
      files: ["check.ts"],
    }),
  );
  const tsc = resolve(repo, "node_modules/typescript/bin/tsc");
  await run(process.execPath, [tsc, "-p", app], { cwd: app, timeout: 60_000 }).catch((error: { stdout?: string }) => {
    throw new Error(`the package's types do not check:\n${error.stdout ?? String(error)}`);
  });
}, 120_000);
