// Runs Debian's nginx on loopback with the site file we ship
// (deploy/nginx/roomcast.conf), its upstreams pointed at the test's workerd
// processes and its TLS at a throwaway self-signed certificate.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./server.ts";
import { waitUntil } from "./node-client.ts";

/** Debian's nginx (`apt-get install nginx`; .ci/run installs it). Tests that need it are skipped, saying so, without it. */
export const hasNginx: boolean = (() => {
  try {
    execFileSync("nginx", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    console.warn("nginx is not installed: the tests through nginx are skipped (apt-get install nginx)");
    return false;
  }
})();

/** The room objects a workerd process has on its disk (ROOMCAST_DATA_DIR/rooms). */
export function roomFiles(dataDir: string): string[] {
  const dir = join(dataDir, "rooms", "roomcast-ChatRoom");
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^[0-9a-f]{64}\.sqlite$/.test(f)) : [];
}

export interface RunningNginx {
  /** https://127.0.0.1:<port> of the TLS server block. */
  base: string;
  stop(): Promise<void>;
}

/** The shipped site file with test ports, loopback listeners and a temporary certificate. */
export async function siteForTest(upstreams: readonly number[], ports: { http: number; https: number }, certDir: string): Promise<string> {
  let site = await readFile("deploy/nginx/roomcast.conf", "utf8");
  const servers = upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=5s;`).join("\n");
  site = site.replace(/( {4}server 127\.0\.0\.1:\d+ [^\n]*\n)+/, `${servers}\n`);
  site = site
    .replace(/^\s*listen \[::\][^\n]*\n/gm, "")
    .replace(/listen 80;/, `listen 127.0.0.1:${ports.http};`)
    .replace(/listen 443 ssl http2;/, `listen 127.0.0.1:${ports.https} ssl http2;`)
    .replace(/\/etc\/letsencrypt\/live\/chat\.example\.com\/fullchain\.pem/, join(certDir, "cert.pem"))
    .replace(/\/etc\/letsencrypt\/live\/chat\.example\.com\/privkey\.pem/, join(certDir, "key.pem"));
  return site;
}

export async function startNginx(upstreams: readonly number[]): Promise<RunningNginx> {
  const dir = await mkdtemp(join(tmpdir(), "roomcast-nginx-"));
  await mkdir(join(dir, "logs"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  const ports = { http: await freePort(), https: await freePort() };
  const conf = `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${await siteForTest(upstreams, ports, dir)}
}
`;
  await writeFile(join(dir, "nginx.conf"), conf);
  execFileSync("nginx", ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], { stdio: "pipe" });
  const child: ChildProcess = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const base = `https://127.0.0.1:${ports.https}`;
  await waitUntil(
    () =>
      fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      ),
    "nginx to proxy /healthz",
    10_000,
  );
  return {
    base,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
