import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BINDINGS, readConfig, SETTINGS } from "../../core/config.ts";
import { renderWorkerdConfig } from "../../scripts/workerd-config.ts";

// The settings are defined once, in core/config.ts's schema (SETTINGS is
// derived from it). This file checks the places that still name them by hand
// against that list: the full configuration table (docs/configuration.md),
// the README's short table of common settings, and wrangler.toml's [vars].

const root = process.cwd();
const read = (path: string) => readFileSync(join(root, path), "utf8");

interface Row {
  name: string;
  section: string;
  binding: boolean;
  default: string;
}

/** The README's section "## Configuration": its short table of common settings. */
function readmeSection(readme: string): string {
  const start = readme.indexOf("\n## Configuration\n");
  if (start < 0) throw new Error("README.md has no section ## Configuration");
  return readme.slice(start, readme.indexOf("\n## ", start + 1));
}

/** The rows of a settings table (in `text`), each with the bold section row above it. */
function tableRows(text: string): Row[] {
  const rows: Row[] = [];
  let section = "";
  for (const line of text.split("\n")) {
    if (!line.startsWith("| ") || line.startsWith("| variable ") || line.startsWith("| ---")) continue;
    const first = line.split("|")[1]?.trim() ?? "";
    const bold = /^\*\*(.+)\*\*$/.exec(first);
    if (bold?.[1]) {
      section = bold[1].replaceAll("`", "");
      continue;
    }
    const setting = /^`([A-Z][A-Z0-9_]*)`( \(binding\))?$/.exec(first);
    if (!setting?.[1]) throw new Error(`configuration table: cannot read the row "${line.slice(0, 60)}…"`);
    rows.push({ name: setting[1], section, binding: setting[2] !== undefined, default: line.split("|")[2]?.trim() ?? "" });
  }
  return rows;
}

/** wrangler.toml's [vars]: the simple `KEY = "value"` lines it is made of; anything else fails. */
function wranglerVars(toml: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of toml.split("\n").map((l) => l.trim())) {
    if (line.startsWith("[")) {
      inVars = line === "[vars]";
      continue;
    }
    if (!inVars || line === "" || line.startsWith("#")) continue;
    const match = /^([A-Za-z0-9_]+)\s*=\s*"([^"]*)"$/.exec(line);
    if (!match?.[1] || match[2] === undefined) throw new Error(`wrangler.toml [vars]: cannot read the line "${line}"`);
    vars[match[1]] = match[2];
  }
  return vars;
}

/**
 * Variables the scripts and tests read from their own environment
 * (`process.env.NAME`; assignments such as NODE_TLS_REJECT_UNAUTHORIZED = "0"
 * are not reads). These are not Worker settings: npm start, the builds and the
 * test runs read them. docs/configuration.md's table documents them in its own sections
 * ("npm start only", "tests"); this scan, not a hand-kept list, is what the
 * test accepts there. It sees only the `process.env.NAME` form, which is the
 * only one these folders use (start.ts's loop over SETTINGS aside).
 */
function scriptVariables(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".ts") && path !== "test/architecture/config-table.test.ts") {
        for (const match of read(path).matchAll(/process\.env\.([A-Z][A-Z0-9_]*)\b(?!\s*=[^=])/g)) {
          const name = match[1] ?? "";
          found.set(name, [...(found.get(name) ?? []), path]);
        }
      }
    }
  };
  for (const dir of ["scripts", "test", "sql", "loadtest"]) visit(dir);
  return found;
}

const WORKER_SECTION = "Worker and rooms";
const rows = tableRows(read("docs/configuration.md"));
const readmeRows = tableRows(readmeSection(read("README.md")));
const vars = wranglerVars(read("wrangler.toml"));

describe("the configuration table (docs/configuration.md)", () => {
  it("has the sections this test reads", () => {
    expect(new Set(rows.map((r) => r.section))).toEqual(new Set(["npm start only", WORKER_SECTION, "tests"]));
  });

  it("has a row for every setting of core/config.ts's schema", () => {
    const documented = new Set(rows.filter((r) => r.section === WORKER_SECTION).map((r) => r.name));
    const missing = SETTINGS.filter((name) => !documented.has(name));
    expect(missing, `settings missing from docs/configuration.md: ${missing.join(", ")}`).toEqual([]);
  });

  it("names no Worker setting the schema does not have (bindings apart)", () => {
    const known = new Set<string>(SETTINGS);
    const unknown = rows.filter((r) => r.section === WORKER_SECTION && !r.binding && !known.has(r.name)).map((r) => r.name);
    expect(unknown, `rows naming no setting of core/config.ts: ${unknown.join(", ")}`).toEqual([]);
    const bindings = new Set<string>(BINDINGS);
    const unknownBindings = rows.filter((r) => r.binding && !bindings.has(r.name)).map((r) => r.name);
    expect(unknownBindings, `binding rows naming no binding core/config.ts reads: ${unknownBindings.join(", ")}`).toEqual([]);
  });

  it("documents every variable the scripts and tests read, and only those, outside the Worker section", () => {
    const reads = scriptVariables();
    const known = new Set<string>(SETTINGS);
    const documented = new Set(rows.filter((r) => r.section !== WORKER_SECTION).map((r) => r.name));
    const undocumented = [...reads.keys()].filter((name) => !known.has(name) && !documented.has(name));
    expect(undocumented, `variables read by scripts or tests but not in the table: ${undocumented.join(", ")}`).toEqual([]);
    const unread = [...documented].filter((name) => !reads.has(name));
    expect(unread, `rows naming a variable no script or test reads: ${unread.join(", ")}`).toEqual([]);
  });
});

describe("the README's short table", () => {
  it("names only settings of the full table, with their documented defaults", () => {
    expect(readmeRows.length).toBeGreaterThan(0);
    const full = new Map(rows.map((r) => [r.name, r]));
    const wrong = readmeRows.filter((r) => !full.has(r.name)).map((r) => r.name);
    expect(wrong, `README rows naming no setting of docs/configuration.md: ${wrong.join(", ")}`).toEqual([]);
    // A row of both tables states the same default, or the README's is a shorter form of it (its first code span).
    const differ = readmeRows
      .filter((r) => {
        const long = full.get(r.name)?.default ?? "";
        return long !== r.default && !long.startsWith(r.default);
      })
      .map((r) => `${r.name}: "${r.default}" vs "${full.get(r.name)?.default}"`);
    expect(differ, "README defaults that differ from docs/configuration.md").toEqual([]);
  });
});

describe("wrangler.toml's [vars]", () => {
  it("are all settings of core/config.ts's schema", () => {
    const known = new Set<string>(SETTINGS);
    const unknown = Object.keys(vars).filter((name) => !known.has(name));
    expect(unknown, `[vars] naming no setting of core/config.ts: ${unknown.join(", ")}`).toEqual([]);
  });

  it("are bound, like every other setting, from the environment by the self-hosted build", () => {
    const build = {
      name: "roomcast",
      compatibilityDate: "2026-01-01",
      compatibilityFlags: [],
      defaults: vars,
      durableObjects: [],
      modules: [],
      outboundAllow: [],
    };
    const capnp = renderWorkerdConfig(build);
    const unbound = SETTINGS.filter((name) => !capnp.includes(`(name = "${name}", fromEnvironment = "${name}")`));
    expect(unbound, `settings the self-hosted build would not bind: ${unbound.join(", ")}`).toEqual([]);
    // A [vars] value is a default written into the build: no secret belongs there.
    expect(Object.keys(vars).filter((name) => /SECRET|_TOKEN$|DSN|DATABASE_URL/.test(name))).toEqual([]);
  });

  it("hold the schema's defaults, except the development values of ENVIRONMENT and ALLOWED_ORIGINS", () => {
    const defaults = JSON.stringify(readConfig({}));
    const differ = Object.entries(vars)
      .filter(([name, value]) => JSON.stringify(readConfig({ [name]: value })) !== defaults)
      .map(([name]) => name);
    // A value that differs on purpose belongs in docs/configuration.md's default column, and here.
    expect(differ, "[vars] values that are not the schema's defaults").toEqual(["ENVIRONMENT", "ALLOWED_ORIGINS"]);
  });
});
