import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The dependency rule of docs/architecture.md is enforced by eslint.config.js;
// these cases run the project's real lint config on imports written into
// files of each part of the tree (lintText: nothing is written to disk).
const eslint = new ESLint({ cwd: process.cwd() });

async function ruleMessages(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

const forbidden: [file: string, imports: string][] = [
  ["protocol/x.ts", "../core/config.ts"],
  ["protocol/x.ts", "../package.json"],
  ["client/x.ts", "../core/log.ts"],
  ["client/src/x.ts", "../../sql/db.ts"],
  ["client/x.ts", "../test/support/server.ts"],
  ["client/x.test.ts", "../worker/app.ts"],
  ["web/src/x.ts", "../../client/index.ts"],
  ["web/src/x.ts", "../../protocol/index.ts"],
  ["core/x.ts", "../worker/app.ts"],
  ["core/x.ts", "../metrics-bridge/registry.ts"],
  ["sql/x.ts", "../worker/context.ts"],
  ["sql/x.ts", "../durable-objects/room/chat-room.ts"],
  ["metrics-bridge/x.ts", "../worker/app.ts"],
  ["durable-objects/room/x.ts", "../../worker/auth/middleware.ts"],
  ["durable-objects/database/x.ts", "../../worker/context.ts"],
  ["worker/x.ts", "../loadtest/run.ts"],
  ["scripts/x.ts", "../loadtest/bench.ts"],
  ["test/e2e/x.ts", "../../loadtest/report.ts"],
];

const allowed: [file: string, imports: string][] = [
  ["protocol/x.ts", "./frames.ts"],
  ["client/x.ts", "../protocol/index.ts"],
  ["client/src/x.ts", "../../protocol/index.ts"],
  ["client/x.test.ts", "../test/support/server.ts"],
  ["web/src/x.ts", "./dom.ts"],
  ["web/src/x.ts", "@roomcast/client"],
  ["core/x.ts", "../protocol/index.ts"],
  ["core/x.ts", "../package.json"],
  ["sql/x.ts", "../protocol/index.ts"],
  ["metrics-bridge/x.ts", "../core/config.ts"],
  ["durable-objects/room/x.ts", "../../core/tokens.ts"],
  ["durable-objects/room/x.ts", "../database/database.ts"],
  ["worker/rooms/x.ts", "../../durable-objects/room/chat-room.ts"],
  ["loadtest/x.ts", "./report.ts"],
];

describe("the dependency rule (npm run lint)", () => {
  it.each(forbidden)("refuses, in %s, an import of %s", async (file, path) => {
    const messages = await ruleMessages(file, `import { x } from "${path}";\nexport const y = x;\n`);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/docs\/architecture\.md/);
  });

  it.each(allowed)("allows, in %s, an import of %s", async (file, path) => {
    expect(await ruleMessages(file, `import { x } from "${path}";\nexport const y = x;\n`)).toEqual([]);
  });

  it("catches type-only imports and re-exports as well", async () => {
    const file = "durable-objects/room/x.ts";
    expect(await ruleMessages(file, `import type { Config } from "../../worker/context.ts";\nexport type C = Config;\n`)).toHaveLength(1);
    expect(await ruleMessages(file, `export { app } from "../../worker/app.ts";\n`)).toHaveLength(1);
  });
});
