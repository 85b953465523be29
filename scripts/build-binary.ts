// `npm run build:binary`: one self-contained executable from the self-hosted
// build (`workerd compile`): the runtime, the config and the bundled Worker.
// It takes the same flags as `workerd serve` and reads the same environment.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, openSync, closeSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { workerdBin } from "./runtime.ts";

const outDir = resolve(process.env.WORKERD_OUT_DIR ?? "dist/workerd");
const config = join(outDir, "config.capnp");
if (!existsSync(config)) {
  console.error(`build:binary: ${config} is missing; run \`npm run build:workerd\` first`);
  process.exit(1);
}
const binary = resolve(process.env.ROOMCAST_BINARY ?? "dist/roomcast");
const out = openSync(binary, "w", 0o755);
try {
  execFileSync(workerdBin(), ["compile", config], { stdio: ["ignore", out, "inherit"] });
} finally {
  closeSync(out);
}
chmodSync(binary, 0o755);
console.log(`build:binary: wrote ${binary} (${(statSync(binary).size / 1e6).toFixed(1)} MB)`);
