// The open room: its connection (connectRoom from @roomcast/client, which
// resumes from its last seq and dedupes after a reconnect), the message list
// with older history on scrolling up, presence, typing, the composer and
// adding members to a private room.
import {
  connectRoom,
  type ConnectionState,
  type Message,
  type PresenceUser,
  type Room,
  type RoomClient,
  type RoomcastApi,
  type User,
} from "@roomcast/client";
import { byId, element } from "./dom.ts";
import { describe, sessionEnded } from "./errors.ts";
import { MessageList } from "./messages.ts";

/** Messages per history page. */
const PAGE = 50;
/** How long "… is typing" stays after the last typing frame. */
const TYPING_SHOWN_MS = 4000;

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Disconnected",
};

/** What the chat needs from the page around it. */
export interface ChatContext {
  api: RoomcastApi;
  token: () => string;
  user: () => User;
  /** Tells the person something that is not tied to a form. */
  notify: (text: string) => void;
  /** The token was refused: back to the login form. */
  sessionEnded: () => void;
}

export class Chat {
  readonly #context: ChatContext;
  readonly #section = byId("chat", HTMLElement);
  readonly #heading = byId("room-heading", HTMLHeadingElement);
  readonly #type = byId("room-type", HTMLElement);
  readonly #connection = byId("connection", HTMLElement);
  readonly #scroller = byId("scroller", HTMLElement);
  readonly #older = byId("load-older", HTMLButtonElement);
  readonly #start = byId("history-start", HTMLElement);
  readonly #presence = byId("presence", HTMLUListElement);
  readonly #typingLine = byId("typing", HTMLParagraphElement);
  readonly #composer = byId("composer", HTMLFormElement);
  readonly #input = byId("message-input", HTMLTextAreaElement);
  readonly #addMember = byId("add-member", HTMLFormElement);
  readonly #member = byId("member-username", HTMLInputElement);
  readonly #memberResult = byId("member-result", HTMLParagraphElement);
  readonly #messages = new MessageList(byId("messages", HTMLOListElement), this.#scroller);
  readonly #typing = new Map<string, { username: string; timer: ReturnType<typeof setTimeout> }>();

  #room: Room | undefined;
  #client: RoomClient | undefined;
  /** Set once the newest page is shown; older pages load only after it. */
  #ready = false;
  #loadingOlder = false;
  #exhausted = false;

  constructor(context: ChatContext) {
    this.#context = context;
    this.#composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send();
    });
    this.#input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#send();
      }
    });
    this.#input.addEventListener("input", () => this.#client?.typing());
    this.#older.addEventListener("click", () => void this.#loadOlder(true));
    // Older history loads when the top of the list scrolls into view.
    new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void this.#loadOlder(), {
      root: this.#scroller,
    }).observe(this.#older);
    this.#addMember.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#add();
    });
  }

  /** The room shown, if any. */
  get room(): Room | undefined {
    return this.#room;
  }

  /** Shows `room` and connects to it (leaving the room shown before). */
  open(room: Room): void {
    this.close();
    this.#room = room;
    this.#messages.reset(this.#context.user().id);
    this.#ready = this.#exhausted = this.#loadingOlder = false;
    this.#older.hidden = false;
    this.#start.hidden = true;
    this.#heading.textContent = room.name || room.id;
    this.#type.textContent = room.type;
    this.#addMember.hidden = room.type !== "private";
    this.#memberResult.textContent = "";
    this.#presence.replaceChildren();
    this.#section.hidden = false;
    const client = connectRoom({
      server: location.origin,
      room: room.id,
      token: this.#context.token,
      onMessage: (message) => this.#onMessage(client, message),
      onPresence: (_change, presence) => this.#showPresence(client, presence),
      onTyping: (user) => this.#onTyping(client, user),
      onState: (state) => this.#onState(client, state),
    });
    this.#client = client;
    void client.start();
    this.#input.focus();
  }

  /** Disconnects and hides the room. */
  close(): void {
    this.#client?.stop();
    this.#client = undefined;
    this.#room = undefined;
    for (const { timer } of this.#typing.values()) clearTimeout(timer);
    this.#typing.clear();
    this.#typingLine.textContent = "";
    this.#section.hidden = true;
  }

  #onState(client: RoomClient, state: ConnectionState): void {
    if (client !== this.#client) return;
    this.#connection.dataset.state = state;
    this.#connection.textContent = STATE_TEXT[state];
    if (state === "open" && !this.#ready) void this.#loadNewest(client);
    if (state === "closed" && client.failure) {
      if (sessionEnded(client.failure)) this.#context.sessionEnded();
      else this.#context.notify(describe(client.failure));
    }
  }

  #onMessage(client: RoomClient, message: Message): void {
    if (client !== this.#client) return;
    this.#messages.addNewer([message]);
    this.#stopTyping(message.userId);
  }

  /** The newest page, once the first socket is welcomed (so it reaches at least the live stream's start). */
  async #loadNewest(client: RoomClient): Promise<void> {
    const room = client === this.#client ? this.#room : undefined;
    if (!room) return;
    try {
      const newest = await this.#context.api.messages(room.id, { limit: PAGE });
      if (client !== this.#client) return;
      this.#exhausted = newest.length < PAGE;
      this.#messages.addNewer(newest);
      // Anything between that page and the live stream's first message.
      for (let after = this.#messages.lastSeq ?? 0; after < client.startSeq;) {
        const gap = await this.#context.api.messages(room.id, { after, limit: 200 });
        if (client !== this.#client || gap.length === 0) break;
        this.#messages.addNewer(gap);
        after = gap.at(-1)?.seq ?? client.startSeq;
      }
      this.#messages.scrollToBottom();
      this.#ready = true;
      this.#showStart();
      await this.#loadOlder();
    } catch (error) {
      this.#failed(error);
    }
  }

  /** The page before the first message shown, when the top of the list is in view (or `pressed`, the button). */
  async #loadOlder(pressed = false): Promise<void> {
    const room = this.#room;
    const client = this.#client;
    if (!room || !client || !this.#ready || this.#loadingOlder || this.#exhausted) return;
    if (!pressed && !this.#topInView()) return;
    const before = this.#messages.firstSeq;
    if (before === undefined || before <= 1) {
      this.#exhausted = true;
      this.#showStart();
      return;
    }
    this.#loadingOlder = true;
    this.#older.textContent = "Loading older messages…";
    try {
      const older = await this.#context.api.messages(room.id, { before, limit: PAGE });
      if (client !== this.#client) return;
      this.#exhausted = older.length < PAGE || (older[0]?.seq ?? 1) <= 1;
      // Quiet while the page goes in above: a screen reader would read it all out.
      this.#scroller.setAttribute("aria-live", "off");
      this.#messages.addOlder(older);
      setTimeout(() => this.#scroller.setAttribute("aria-live", "polite"));
    } catch (error) {
      this.#failed(error);
      return;
    } finally {
      this.#loadingOlder = false;
      this.#older.textContent = "Load older messages";
    }
    this.#showStart();
    // Still at the top (a short page, a tall window): the next page.
    await this.#loadOlder();
  }

  /** Whether the top of the list (the button) is scrolled into view, measured now. */
  #topInView(): boolean {
    const top = this.#older.getBoundingClientRect();
    const view = this.#scroller.getBoundingClientRect();
    return !this.#older.hidden && top.bottom > view.top && top.top < view.bottom;
  }

  #showStart(): void {
    this.#older.hidden = this.#exhausted;
    this.#start.hidden = !this.#exhausted;
  }

  #send(): void {
    const client = this.#client;
    const body = this.#input.value;
    if (!client || body.trim() === "") return;
    this.#input.value = "";
    const clientMsgId = crypto.randomUUID();
    this.#messages.addPending(clientMsgId, this.#context.user().username, body);
    client.send(body, clientMsgId).then(
      (seq) => {
        if (client === this.#client) this.#messages.stored(clientMsgId, seq);
      },
      (error: unknown) => {
        if (client === this.#client) this.#messages.failed(clientMsgId, describe(error));
      },
    );
  }

  #showPresence(client: RoomClient, presence: ReadonlyMap<string, PresenceUser>): void {
    if (client !== this.#client) return;
    const me = this.#context.user().id;
    const users = [...presence.values()].sort((a, b) => a.username.localeCompare(b.username));
    this.#presence.replaceChildren(
      ...users.map((u) => {
        const item = element("li", u.userId === me ? "me" : "", u.username);
        item.dataset.userId = u.userId;
        if (u.userId === me) item.append(element("span", "hint", " (you)"));
        return item;
      }),
    );
  }

  #onTyping(client: RoomClient, user: PresenceUser): void {
    if (client !== this.#client || user.userId === this.#context.user().id) return;
    const shown = this.#typing.get(user.userId);
    if (shown) clearTimeout(shown.timer);
    this.#typing.set(user.userId, { username: user.username, timer: setTimeout(() => this.#stopTyping(user.userId), TYPING_SHOWN_MS) });
    this.#showTyping();
  }

  #stopTyping(userId: string): void {
    const shown = this.#typing.get(userId);
    if (!shown) return;
    clearTimeout(shown.timer);
    this.#typing.delete(userId);
    this.#showTyping();
  }

  #showTyping(): void {
    const names = [...this.#typing.values()].map((t) => t.username).sort();
    this.#typingLine.textContent =
      names.length === 0
        ? ""
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : "Several people are typing…";
  }

  async #add(): Promise<void> {
    const room = this.#room;
    const username = this.#member.value.trim();
    if (!room || !username) {
      this.#memberResult.textContent = "Enter a username.";
      return;
    }
    try {
      await this.#context.api.addMember(room.id, username);
      this.#memberResult.textContent = `${username} can now join ${room.name || room.id}.`;
      this.#member.value = "";
    } catch (error) {
      if (sessionEnded(error)) this.#context.sessionEnded();
      else this.#memberResult.textContent = describe(error);
    }
  }

  #failed(error: unknown): void {
    if (sessionEnded(error)) this.#context.sessionEnded();
    else this.#context.notify(describe(error));
  }
}
