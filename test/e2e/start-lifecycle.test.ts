// `npm start` as a newcomer runs it (issue 14): nothing it started outlives
// it, however it ends (a closed terminal's SIGHUP, kill -9); a start on a busy
// port or data directory says so in one line; its generated development secret survives a
// restart, so tokens do too. Runs `npm start`'s own runtime, wrangler dev.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { LoginResponse } from "../../protocol/index.ts";
import { http, waitUntil } from "../support/node-client.ts";
import { freePort, startServer, type RunningServer } from "../support/server.ts";

/** Starts `npm start` (wrangler dev) with no JWT_SECRET from the shell. */
const start = (env: Record<string, string | undefined> = {}) => startServer({ JWT_SECRET: undefined, ...env }, "wrangler");

/** Field `index` (0 = state, 1 = ppid, 2 = pgrp) of /proc/<pid>/stat, after the command name. */
async function stat(pid: number | string, index: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, "utf8");
    return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[index]);
  } catch {
    return undefined;
  }
}

/** The supervisor (scripts/start.ts): the parent of the runtime's group leader. */
async function supervisorOf(server: RunningServer): Promise<number> {
  const pid = await stat(server.runtimeGroup() ?? 0, 1);
  expect(pid).toBeTruthy();
  expect(await readFile(`/proc/${pid}/cmdline`, "utf8")).toContain("scripts/start.ts");
  return pid ?? 0;
}

/** Live processes of this run: in the runtime's group, or with this run's data directory in their environment. */
async function leftovers(server: RunningServer, supervisor: number): Promise<number[]> {
  const marker = `ROOMCAST_DATA_DIR=${server.dataDir}\0`;
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const environ = await readFile(`/proc/${pid}/environ`, "utf8").catch(() => "");
    const ours = (await stat(pid, 2)) === server.runtimeGroup() || environ.includes(marker) || Number(pid) === supervisor;
    // A zombie is already dead; its parent has yet to reap it.
    if (ours && (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).split(") ")[1]?.[0] !== "Z") found.push(Number(pid));
  }
  return found;
}

async function listening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), done(true)));
    socket.once("error", () => done(false));
  });
}

/** After the supervisor ended: nothing of the run is left, and nothing listens on its port. */
async function expectNothingLeft(server: RunningServer, supervisor: number, timeoutMs: number): Promise<void> {
  const port = Number(new URL(server.base).port);
  try {
    await waitUntil(async () => (await leftovers(server, supervisor)).length === 0, "every process of the run to end", timeoutMs);
    expect(await listening(port)).toBe(false);
  } finally {
    // Only if the check failed: do not leave the run behind.
    if ((await leftovers(server, supervisor)).length) await server.kill9();
  }
}

async function login(base: string): Promise<string> {
  const username = `keep${Date.now().toString(36)}`;
  expect((await http(base, "/auth/register", { json: { username, password: "password-123" } })).status).toBe(201);
  const response = await http(base, "/auth/login", { json: { username, password: "password-123" } });
  expect(response.status).toBe(200);
  return (response.body as LoginResponse).token;
}

/** Runs npm start's script with `env` and returns its exit code and output. */
const startBeside = async (env: Record<string, string>) => {
  const busy = spawn(process.execPath, ["scripts/start.ts"], {
    env: {
      ...process.env,
      ROOMCAST_DATA_DIR: await mkdtemp(join(tmpdir(), "roomcast-busy-")),
      ROOMCAST_RUNTIME: "wrangler",
      DATABASE_URL: "",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  busy.stdout.on("data", (d: Buffer) => (output += d.toString()));
  busy.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((done) => busy.once("exit", done));
  return { code, output };
};

describe("npm start, started and stopped as a newcomer does", () => {
  it("keeps its generated secret across a restart; a second start on a busy port (HTTP or the embedded database's) says so in one line", async () => {
    const first = await start();
    let token: string;
    try {
      token = await login(first.base);
      const port = new URL(first.base).port;
      const onHttp = await startBeside({ PORT: port, EMBEDDED_PG_PORT: String(await freePort()) });
      expect(onHttp.code).not.toBe(0);
      expect(onHttp.output.trim().split("\n")).toEqual([expect.stringContaining(`port ${port} `)]);
      expect(onHttp.output).toContain(`ss -ltnp 'sport = :${port}'`);
      expect(onHttp.output).toContain("PORT=");
      const pgPort = /PGlite\) on postgres:\/\/[^@]+@127\.0\.0\.1:(\d+)/.exec(first.output())?.[1];
      expect(pgPort, "the first server's embedded database port").toBeDefined();
      const onDatabase = await startBeside({ PORT: String(await freePort()), EMBEDDED_PG_PORT: pgPort ?? "" });
      expect(onDatabase.code).not.toBe(0);
      expect(onDatabase.output.trim().split("\n")).toEqual([expect.stringContaining(`port ${pgPort} `)]);
      expect(onDatabase.output).toContain("EMBEDDED_PG_PORT=");
      // The same data directory on free ports: two PGlite on the same files.
      const onData = await startBeside({
        ROOMCAST_DATA_DIR: first.dataDir,
        PORT: String(await freePort()),
        EMBEDDED_PG_PORT: String(await freePort()),
      });
      expect(onData.code).not.toBe(0);
      expect(onData.output.trim().split("\n")).toEqual([expect.stringContaining(`${first.dataDir} is in use by another npm start`)]);
      expect(onData.output).toContain("ROOMCAST_DATA_DIR=");
      // The running server was not disturbed.
      expect((await http(first.base, "/auth/me", { token })).status).toBe(200);
    } finally {
      await first.stop();
    }
    const second = await start({ ROOMCAST_DATA_DIR: first.dataDir });
    try {
      expect((await http(second.base, "/auth/me", { token })).status).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it("a malformed WORKERD_INSPECTOR is refused in one line before anything starts", async () => {
    const refused = await startBeside({
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      WORKERD_INSPECTOR: "9229",
    });
    expect(refused.code).not.toBe(0);
    expect(refused.output.trim().split("\n")).toEqual(['roomcast: WORKERD_INSPECTOR must be host:port, got "9229"']);
  });

  it("a SIGHUP to the foreground group (the terminal closed) leaves nothing running", async () => {
    const server = await start();
    const supervisor = await supervisorOf(server);
    // startServer starts the supervisor in a group of its own, as a shell's job.
    process.kill(-supervisor, "SIGHUP");
    await expectNothingLeft(server, supervisor, 20_000);
    expect(server.output()).toMatch(/drained \d+ sockets/);
  });

  it("kill -9 of the supervisor alone leaves nothing running, and the next start takes over its data directory", async () => {
    const server = await start();
    const supervisor = await supervisorOf(server);
    process.kill(supervisor, "SIGKILL");
    await expectNothingLeft(server, supervisor, 20_000);
    expect(server.output()).toContain("the supervisor is gone; stopping the runtime");
    // Its lock file is left behind, naming a process that is gone.
    expect((await readFile(join(server.dataDir, "roomcast.pid"), "utf8")).trim()).toBe(String(supervisor));
    const next = await start({ ROOMCAST_DATA_DIR: server.dataDir });
    try {
      expect((await http(next.base, "/readyz")).status).toBe(200);
    } finally {
      await next.stop();
    }
  });
});
