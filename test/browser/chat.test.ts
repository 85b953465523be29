// The chat page in a real browser, as two people use it: Debian's Chromium
// driven by playwright-core against a server started as `npm start` starts
// it (ROOMCAST_RUNTIME=workerd: the self-hosted build). One server start and
// one restart for the whole file. Checks the page and the WebSocket traffic,
// never pixels; screenshots go to test-output/browser/ for people to look at.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { allOrStop, defaultRuntime, freePort, startServer, type RunningServer } from "../support/server.ts";
import { consecutive, deduped, launch, skipReason, Tab } from "./driver.ts";

if (skipReason) console.warn(`test/browser: skipped: ${skipReason}`);

const runtime = defaultRuntime;
const suffix = randomBytes(3).toString("hex");
const alice = `alice-${suffix}`;
const bob = `bob-${suffix}`;
const carol = `carol-${suffix}`;
const password = "correct horse battery";
const privateRoom = `plans-${suffix}`;
const historyRoom = `history-${suffix}`;
const SCRIPT_PAYLOAD = "<img src=x onerror=alert(1)><script>alert(2)</script>";

const title = skipReason ? `the chat page in Chromium (skipped: ${skipReason})` : `the chat page in Chromium (${runtime})`;

describe.skipIf(skipReason !== undefined)(title, () => {
  let server: RunningServer;
  let settings: Record<string, string | undefined>;
  let browser: Browser;
  const tabs: Tab[] = [];
  const screenshots: string[] = [];
  const started = Date.now();
  let a: Tab;
  let b: Tab;

  beforeAll(async () => {
    settings = {
      PORT: String(await freePort()),
      ROOMCAST_DATA_DIR: await mkdtemp(join(tmpdir(), "roomcast-browser-")),
      // The same secret after the restart, so that the pages' tokens stay good.
      JWT_SECRET: randomBytes(32).toString("hex"),
      DATABASE_URL: process.env.TEST_DATABASE_URL ? inject("databaseUrl") : undefined,
      // Nothing but the page's own origin may open sockets: the page works without configuration.
      ALLOWED_ORIGINS: "https://elsewhere.example",
      // Reconnects soon after the drain's goaway, and room for the 80 history messages.
      RECONNECT_SPREAD: "500ms",
      RATE_LIMIT_PER_SECOND: "1000",
      RATE_LIMIT_BURST: "1000",
    };
    [server, browser] = await allOrStop<[RunningServer, Browser]>([startServer(settings, runtime), launch()]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (screenshots.length) console.log(`screenshots:\n  ${screenshots.join("\n  ")}`);
    console.log(`browser tests (${runtime}): ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  async function shoot(tab: Tab, step: string): Promise<void> {
    screenshots.push(await tab.screenshot(runtime, step));
  }

  async function open(name: string): Promise<Tab> {
    const tab = await Tab.open(browser, server.base, name);
    tabs.push(tab);
    return tab;
  }

  it("serves the page with its policy, and nothing inline is needed", async () => {
    const answer = await fetch(server.base);
    expect(answer.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(answer.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    expect(answer.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("two people register, share a private room and chat both ways with presence and typing", async () => {
    [a, b] = await Promise.all([open("alice"), open("bob")]);
    await shoot(a, "login");
    await a.register(alice, password);
    await b.register(bob, password);

    // Alice creates a private room and adds Bob.
    await a.page.fill("#room-id", privateRoom);
    await a.page.fill("#room-name", "Weekend plans");
    await a.page.check("input[name=room-type][value=private]");
    await a.page.click("#create-room button[type=submit]");
    await a.page.locator("#room-heading", { hasText: "Weekend plans" }).waitFor();
    await a.waitState("open");
    await a.page.fill("#member-username", bob);
    await a.page.click("#add-member button[type=submit]");
    await a.page.locator("#member-result", { hasText: `${bob} can now join` }).waitFor();

    // Bob sees it after a refresh of his list, and opens it.
    await b.page.click("#rooms-refresh");
    await b.page.click(`#room-list button[data-room="${privateRoom}"]`);
    await b.waitState("open");
    for (const tab of [a, b]) {
      for (const name of [alice, bob]) await tab.page.locator("#presence li", { hasText: name }).waitFor();
    }

    // Typing shows on the other side, and clears when the message comes.
    await a.page.locator("#message-input").pressSequentially("Saturday at the lake?", { delay: 10 });
    await b.page.locator("#typing", { hasText: `${alice} is typing` }).waitFor();
    await a.page.press("#message-input", "Enter");
    await b.waitMessage("Saturday at the lake?");
    expect(await b.page.textContent("#typing")).toBe("");
    await b.page.locator("#message-input").pressSequentially("Yes! I'll bring the boat.", { delay: 10 });
    await a.page.locator("#typing", { hasText: `${bob} is typing` }).waitFor();
    await b.page.press("#message-input", "Enter");
    await a.waitMessage("Yes! I'll bring the boat.");
    expect(await a.page.textContent("#typing")).toBe("");
    await a.send("Great, see you there at ten.");
    for (const tab of [a, b]) expect(await tab.waitMessage("see you there")).toBe(3);
    await shoot(a, "chat");
    await shoot(b, "chat");
  });

  it("resumes on both pages after a server restart, without a gap or a duplicate", async () => {
    await server.stop();
    await Promise.all([a.waitState("reconnecting"), b.waitState("reconnecting")]);
    // Sent while the server is down: shown greyed, delivered once it is back.
    await a.send("Sent while the server was down");
    await a.page.locator("#messages li.pending", { hasText: "while the server was down" }).waitFor();
    await shoot(a, "outage");
    server = await startServer(settings, runtime);
    await Promise.all([a.waitState("open", 60_000), b.waitState("open", 60_000)]);
    for (const tab of [a, b]) await tab.waitMessage("while the server was down");
    await b.send("Back again.");
    for (const tab of [a, b]) await tab.waitMessage("Back again.");
    await shoot(b, "resumed");

    for (const tab of [a, b]) {
      const seqs = await tab.shownSeqs();
      expect(seqs, `${tab.name}: the list`).toEqual([1, 2, 3, 4, 5]);
      const bodies = await tab.page.$$eval("#messages li .body", (items) => items.map((i) => i.textContent));
      expect(
        bodies.filter((body) => body === "Sent while the server was down"),
        tab.name,
      ).toHaveLength(1);
      expect(await tab.page.locator("#messages li.pending").count(), tab.name).toBe(0);
      // On the wire: two sockets at least, and what they carried, deduplicated, has no hole.
      const sockets = new Set(tab.messages.filter((m) => m.room === privateRoom).map((m) => m.socket));
      expect(sockets.size, `${tab.name}: sockets that carried messages`).toBeGreaterThanOrEqual(2);
      const wire = deduped(tab.messages, privateRoom);
      expect(consecutive(wire), `${tab.name}: ${wire.join(",")}`).toBe(true);
      expect(wire.at(-1)).toBe(5);
    }
  });

  it("shows a script payload as text", async () => {
    await a.send(SCRIPT_PAYLOAD);
    for (const tab of [a, b]) {
      const seq = await tab.waitMessage("onerror=alert(1)");
      const body = await tab.page.textContent(`#messages li[data-seq="${seq}"] .body`);
      expect(body).toBe(SCRIPT_PAYLOAD);
      expect(await tab.page.locator("#messages img, #messages script").count()).toBe(0);
      expect(tab.messages.some((m) => m.body === SCRIPT_PAYLOAD)).toBe(true);
    }
    await shoot(b, "script-as-text");
  });

  it("loads older history when the list is scrolled to the top", async () => {
    const login = await fetch(`${server.base}/auth/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: alice, password }),
    });
    const { token } = (await login.json()) as { token: string };
    const call = (path: string, body: unknown) =>
      fetch(`${server.base}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    expect((await call("/rooms", { id: historyRoom, name: "History", type: "public" })).status).toBe(201);
    for (let i = 1; i <= 80; i++) {
      expect((await call(`/rooms/${historyRoom}/messages`, { clientMsgId: `h${i}`, body: `history message ${i}` })).status).toBe(201);
    }
    await a.page.click("#rooms-refresh");
    await a.page.click(`#room-list button[data-room="${historyRoom}"]`);
    await a.waitState("open");
    await a.waitMessage("history message 80");
    expect(await a.shownSeqs()).toEqual(Array.from({ length: 50 }, (_, i) => 31 + i));
    await a.page.$eval("#scroller", (scroller) => (scroller.scrollTop = 0));
    await a.page.locator('#messages li[data-seq="1"]').waitFor();
    expect(await a.shownSeqs()).toEqual(Array.from({ length: 80 }, (_, i) => 1 + i));
    await a.page.locator("#history-start").waitFor();
    // The reader stays where they were: the page went in above, not under them.
    expect(await a.page.$eval("#scroller", (scroller) => scroller.scrollTop)).toBeGreaterThan(0);
    await shoot(a, "history");
  });

  it("works with the keyboard alone: register, pick a room, send", async () => {
    const c = await open("carol");
    const { page } = c;
    const focused = () => c.focused();
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("auth-username");
    await page.keyboard.type(carol);
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("auth-password");
    await page.keyboard.type(password);
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Log in");
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Register");
    await page.keyboard.press("Enter");
    await page.locator("#me", { hasText: carol }).waitFor();
    expect(await focused()).toBe("rooms-heading");
    // Each stop in order, with its focus visible.
    const tab = async (expected: string) => {
      await page.keyboard.press("Tab");
      expect(await focused()).toBe(expected);
      expect(await c.focusOutline(), expected).not.toBe("none");
    };
    await tab("rooms-refresh");
    await tab("room-filter");
    await page.keyboard.type(historyRoom);
    await tab(historyRoom);
    await page.keyboard.press("Enter");
    await c.waitState("open");
    expect(await focused()).toBe("message-input");
    await page.keyboard.type("Hello from the keyboard");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("second line");
    await page.keyboard.press("Enter");
    expect(await c.waitMessage("Hello from the keyboard")).toBe(81);
    expect(await page.textContent('#messages li[data-seq="81"] .body')).toBe("Hello from the keyboard\nsecond line");
    // No trap: Tab leaves the message box for the send button, and onwards.
    await page.keyboard.press("Tab");
    expect(await focused()).toBe("Send");
    await shoot(c, "keyboard");
  });

  it("reported no CSP violation, dialog or page error", async () => {
    for (const tab of tabs) {
      expect(await tab.cspViolations(), tab.name).toEqual([]);
      expect(tab.dialogs, tab.name).toEqual([]);
      expect(tab.errors, tab.name).toEqual([]);
    }
  });
});
