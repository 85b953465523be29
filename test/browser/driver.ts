// Drives the chat page in Debian's Chromium through playwright-core (which
// cannot download its own browsers here) and records what a test checks:
// every WebSocket frame the page received, dialogs, page errors and
// Content-Security-Policy violations. Screenshots go to test-output/browser/.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

/** The binary Debian's `chromium` package installs. */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can. */
export const skipReason = existsSync(CHROMIUM) ? undefined : `chromium not installed at ${CHROMIUM}: apt-get install chromium`;

/** Where screenshots go (gitignored). */
export const OUTPUT_DIR = resolve("test-output/browser");

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/**
 * What the callbacks run inside the page use of it, typed here because the
 * project compiles without the DOM's types (only web/ has them).
 */
interface InPage {
  cspViolations: string[];
  document: {
    activeElement: InPageElement | null;
    addEventListener(type: "securitypolicyviolation", listener: (event: { violatedDirective: string; blockedURI: string }) => void): void;
  };
  getComputedStyle(element: InPageElement): { outlineStyle: string };
}
interface InPageElement {
  id: string;
  tagName: string;
  textContent: string | null;
  getAttribute(name: string): string | null;
}

/** A `message` frame as the page received it. */
export interface MessageFrame {
  room: string;
  seq: number;
  body: string;
  /** Which of the page's sockets it came on (0 = the first). */
  socket: number;
}

/** One person's tab: the page and what it received. */
export class Tab {
  readonly page: Page;
  readonly name: string;
  readonly messages: MessageFrame[] = [];
  readonly frameTypes: string[] = [];
  readonly socketUrls: string[] = [];
  readonly dialogs: string[] = [];
  readonly errors: string[] = [];

  constructor(page: Page, name: string) {
    this.page = page;
    this.name = name;
    page.on("websocket", (ws) => {
      const socket = this.socketUrls.push(ws.url()) - 1;
      const room = decodeURIComponent(/\/rooms\/([^/]+)\/ws/.exec(ws.url())?.[1] ?? "");
      ws.on("framereceived", ({ payload }) => {
        const frame = JSON.parse(String(payload)) as { type: string; seq?: number; body?: string };
        this.frameTypes.push(frame.type);
        if (frame.type === "message" && typeof frame.seq === "number") {
          this.messages.push({ room, seq: frame.seq, body: frame.body ?? "", socket });
        }
      });
    });
    page.on("dialog", (dialog) => {
      this.dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on("pageerror", (error) => this.errors.push(`page error: ${error.message}`));
  }

  /** Opens a fresh tab on `base`, listening for CSP violations before the page's own script runs. */
  static async open(browser: Browser, base: string, name: string): Promise<Tab> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // Injected over the DevTools protocol: the page's policy does not apply to it.
    await page.addInitScript(() => {
      const inPage = globalThis as unknown as InPage;
      inPage.cspViolations = [];
      inPage.document.addEventListener("securitypolicyviolation", (e) =>
        inPage.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    const tab = new Tab(page, name);
    await page.goto(base);
    return tab;
  }

  /** Content-Security-Policy violations the page reported. */
  cspViolations(): Promise<string[]> {
    return this.page.evaluate(() => (globalThis as unknown as InPage).cspViolations);
  }

  /** The focused element: its id, else its room (a room button), else its text. */
  focused(): Promise<string> {
    return this.page.evaluate(() => {
      const element = (globalThis as unknown as InPage).document.activeElement;
      if (!element) return "";
      return element.id || element.getAttribute("data-room") || element.textContent?.trim() || element.tagName;
    });
  }

  /** The focused element's outline style ("none" when focus would be invisible). */
  focusOutline(): Promise<string> {
    return this.page.evaluate(() => {
      const inPage = globalThis as unknown as InPage;
      const element = inPage.document.activeElement;
      return element ? inPage.getComputedStyle(element).outlineStyle : "none";
    });
  }

  /** Registers through the form (and is logged in by it). */
  async register(username: string, password: string): Promise<void> {
    await this.page.fill("#auth-username", username);
    await this.page.fill("#auth-password", password);
    await this.page.click("button[value=register]");
    await this.page.locator("#me", { hasText: username }).waitFor();
  }

  /** The seqs of the stored messages shown, top to bottom. */
  shownSeqs(): Promise<number[]> {
    return this.page.$$eval("#messages li[data-seq]", (items) => items.map((li) => Number(li.getAttribute("data-seq"))));
  }

  /** Waits until a stored message with this body is shown; returns its seq. */
  async waitMessage(body: string): Promise<number> {
    const item = this.page.locator("#messages li[data-seq]", { has: this.page.locator(".body", { hasText: body }) }).first();
    await item.waitFor();
    return Number(await item.getAttribute("data-seq"));
  }

  /** Waits for the connection badge to show a state. */
  async waitState(state: "connecting" | "open" | "reconnecting" | "closed", timeout = 30_000): Promise<void> {
    await this.page.locator(`#connection[data-state=${state}]`).waitFor({ timeout });
  }

  async send(body: string): Promise<void> {
    await this.page.fill("#message-input", body);
    await this.page.press("#message-input", "Enter");
  }

  async screenshot(runtime: string, step: string): Promise<string> {
    await mkdir(OUTPUT_DIR, { recursive: true });
    const path = join(OUTPUT_DIR, `${runtime}-${step}-${this.name}.png`);
    await this.page.screenshot({ path });
    return path;
  }
}

/** One room's message seqs after dropping repeats: what a deduplicating client keeps, in arrival order. */
export function deduped(frames: readonly MessageFrame[], room: string): number[] {
  const seen = new Set<number>();
  return frames.filter((f) => f.room === room && !seen.has(f.seq) && seen.add(f.seq)).map((f) => f.seq);
}

/** True when `seqs` is a run of consecutive integers (no gap, no repeat, in order). */
export function consecutive(seqs: readonly number[]): boolean {
  return seqs.every((seq, i) => i === 0 || seq === (seqs[i - 1] ?? 0) + 1);
}
