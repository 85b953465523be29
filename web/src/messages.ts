// The message list of the open room: one <li data-seq> per message, in seq
// order whatever order they arrive in (live, a history page, a gap fill),
// each seq shown once. Sends of this page show greyed (no seq yet) at the end
// until the room stores them. Bodies and names are set as text, never HTML.
import type { Message } from "@roomcast/client";
import { element } from "./dom.ts";

/** How close to the bottom (px) counts as "reading the newest": new messages then scroll into view. */
const NEAR_BOTTOM = 48;

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export class MessageList {
  readonly #list: HTMLOListElement;
  readonly #scroller: HTMLElement;
  readonly #bySeq = new Map<number, HTMLLIElement>();
  /** This page's sends not yet stored, by clientMsgId. */
  readonly #pending = new Map<string, HTMLLIElement>();
  #me = "";
  #first: number | undefined;
  #last: number | undefined;

  constructor(list: HTMLOListElement, scroller: HTMLElement) {
    this.#list = list;
    this.#scroller = scroller;
  }

  /** Empties the list for another room; `me` is the signed-in user's id. */
  reset(me: string): void {
    this.#list.replaceChildren();
    this.#bySeq.clear();
    this.#pending.clear();
    this.#me = me;
    this.#first = this.#last = undefined;
  }

  /** The lowest and highest seq shown. */
  get firstSeq(): number | undefined {
    return this.#first;
  }
  get lastSeq(): number | undefined {
    return this.#last;
  }

  /** Adds newer messages (live, or the newest page), following them if the reader is at the bottom. */
  addNewer(messages: readonly Message[]): void {
    const follow = this.atBottom();
    for (const message of messages) this.#add(message);
    if (follow) this.scrollToBottom();
  }

  /** Adds a page of older messages above, keeping what the reader sees where it was. */
  addOlder(messages: readonly Message[]): void {
    const fromBottom = this.#scroller.scrollHeight - this.#scroller.scrollTop;
    for (const message of messages) this.#add(message);
    this.#scroller.scrollTop = this.#scroller.scrollHeight - fromBottom;
  }

  /** Shows a send of this page, greyed, until {@link stored} or {@link failed}. */
  addPending(clientMsgId: string, username: string, body: string): void {
    const item = render(username, body);
    item.classList.add("pending", "mine");
    item.dataset.clientMsgId = clientMsgId;
    item.querySelector(".meta")?.append(element("span", "state", "sending…"));
    this.#pending.set(clientMsgId, item);
    this.#list.append(item);
    this.scrollToBottom();
  }

  /** A send of this page was stored as `seq`: its pending line becomes that message, unless the message is shown already. */
  stored(clientMsgId: string, seq: number): void {
    const item = this.#pending.get(clientMsgId);
    if (!item) return;
    this.#pending.delete(clientMsgId);
    if (this.#bySeq.has(seq)) {
      item.remove();
      return;
    }
    settle(item, seq, new Date());
    this.#place(item, seq);
  }

  /** A send of this page was refused for good. */
  failed(clientMsgId: string, reason: string): void {
    const item = this.#pending.get(clientMsgId);
    if (!item) return;
    this.#pending.delete(clientMsgId);
    item.classList.replace("pending", "failed");
    const state = item.querySelector(".state");
    if (state) state.textContent = `not sent: ${reason}`;
  }

  atBottom(): boolean {
    const s = this.#scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM;
  }

  scrollToBottom(): void {
    this.#scroller.scrollTop = this.#scroller.scrollHeight;
  }

  #add(message: Message): void {
    if (this.#bySeq.has(message.seq)) return;
    const mine = message.userId === this.#me;
    const pending = mine ? this.#pending.get(message.clientMsgId) : undefined;
    let item: HTMLLIElement;
    if (pending) {
      this.#pending.delete(message.clientMsgId);
      item = pending;
    } else {
      item = render(message.username, message.body);
      if (mine) item.classList.add("mine");
    }
    item.dataset.userId = message.userId;
    settle(item, message.seq, new Date(message.createdAt));
    this.#place(item, message.seq);
  }

  /** Puts a stored message where its seq belongs: before every higher seq, and before the pending sends. */
  #place(item: HTMLLIElement, seq: number): void {
    this.#bySeq.set(seq, item);
    let before: Element | null = null;
    if (this.#last === undefined || seq > this.#last) {
      before = this.#pending.values().next().value ?? null;
    } else {
      for (const child of this.#list.children) {
        const at = (child as HTMLElement).dataset.seq;
        if (at !== undefined && Number(at) > seq) {
          before = child;
          break;
        }
      }
    }
    this.#list.insertBefore(item, before);
    this.#first = this.#first === undefined ? seq : Math.min(this.#first, seq);
    this.#last = this.#last === undefined ? seq : Math.max(this.#last, seq);
  }
}

/** One message's line: who, when, and the body as text. */
function render(username: string, body: string): HTMLLIElement {
  const item = element("li", "message");
  const meta = element("div", "meta");
  meta.append(element("span", "author", username), element("time", "time"));
  item.append(meta, element("p", "body", body));
  return item;
}

/** Marks a line as stored under `seq` at `at`. */
function settle(item: HTMLLIElement, seq: number, at: Date): void {
  item.dataset.seq = String(seq);
  item.classList.remove("pending");
  delete item.dataset.clientMsgId;
  item.querySelector(".state")?.remove();
  const time = item.querySelector("time");
  if (time && !Number.isNaN(at.getTime())) {
    time.dateTime = at.toISOString();
    time.textContent = timeFormat.format(at);
    time.title = dateFormat.format(at);
  }
}
