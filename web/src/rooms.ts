// The room list (public rooms and the private rooms the user is in) and the
// form that creates a room.
import { ROOM_ID_PATTERN, type Room, type RoomcastApi, type RoomType } from "@roomcast/client";
import { byId, element } from "./dom.ts";
import { describe, sessionEnded } from "./errors.ts";

/** What the room list needs from the page around it. */
export interface RoomsContext {
  api: RoomcastApi;
  open: (room: Room) => void;
  notify: (text: string) => void;
  sessionEnded: () => void;
}

export class Rooms {
  readonly #context: RoomsContext;
  readonly #list = byId("room-list", HTMLUListElement);
  readonly #empty = byId("rooms-empty", HTMLParagraphElement);
  readonly #filter = byId("room-filter", HTMLInputElement);
  readonly #form = byId("create-room", HTMLFormElement);
  readonly #id = byId("room-id", HTMLInputElement);
  readonly #name = byId("room-name", HTMLInputElement);
  readonly #error = byId("create-error", HTMLParagraphElement);
  #rooms: Room[] = [];
  #current: string | undefined;
  /** What the list shows now, to leave it alone when a refresh changes nothing. */
  #shown = "";

  constructor(context: RoomsContext) {
    this.#context = context;
    byId("rooms-refresh", HTMLButtonElement).addEventListener("click", () => void this.refresh());
    this.#filter.addEventListener("input", () => this.#render());
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.#create();
    });
  }

  /** Reads the list again; false when it could not. */
  async refresh(): Promise<boolean> {
    try {
      this.#rooms = await this.#context.api.rooms();
    } catch (error) {
      if (sessionEnded(error)) this.#context.sessionEnded();
      else this.#context.notify(`Rooms could not be loaded: ${describe(error)}`);
      return false;
    }
    this.#render();
    return true;
  }

  /** Forgets the list (signing out). */
  clear(): void {
    this.#rooms = [];
    this.#current = undefined;
    this.#filter.value = "";
    this.#render();
  }

  /** The room with this id in the list, if the user may see it. */
  find(id: string): Room | undefined {
    return this.#rooms.find((r) => r.id === id);
  }

  /** Marks the open room in the list. */
  select(id: string | undefined): void {
    this.#current = id;
    for (const button of this.#list.querySelectorAll<HTMLButtonElement>("button[data-room]")) {
      if (button.dataset.room === id) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  #render(): void {
    const wanted = this.#filter.value.trim().toLowerCase();
    const rooms = this.#rooms
      .filter((r) => !wanted || r.id.includes(wanted) || r.name.toLowerCase().includes(wanted))
      .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id));
    const shown = JSON.stringify(rooms.map((r) => [r.id, r.name, r.type]));
    if (shown === this.#shown) return;
    this.#shown = shown;
    // A refresh must not take the keyboard's place away: the focused room keeps it.
    const focused = (document.activeElement as HTMLElement | null)?.dataset.room;
    this.#list.replaceChildren(
      ...rooms.map((room) => {
        const button = element("button", "room", room.name || room.id);
        button.type = "button";
        button.dataset.room = room.id;
        if (room.type === "private") button.append(element("span", "badge", "private"));
        button.addEventListener("click", () => this.#context.open(room));
        const item = element("li");
        item.append(button);
        return item;
      }),
    );
    this.#empty.hidden = rooms.length > 0;
    this.#empty.textContent = wanted ? "No room matches." : "No rooms yet: create one below.";
    this.select(this.#current);
    if (focused) this.#list.querySelector<HTMLButtonElement>(`button[data-room="${CSS.escape(focused)}"]`)?.focus();
  }

  async #create(): Promise<void> {
    const id = this.#id.value.trim();
    const name = this.#name.value.trim();
    const type = (new FormData(this.#form).get("room-type") === "private" ? "private" : "public") satisfies RoomType;
    this.#error.textContent = "";
    if (!ROOM_ID_PATTERN.test(id)) {
      this.#error.textContent = "The id needs 1–64 lowercase letters, digits, “-” or “_”, starting with a letter or digit.";
      this.#id.focus();
      return;
    }
    try {
      const room = await this.#context.api.createRoom({ id, type, ...(name ? { name } : {}) });
      this.#form.reset();
      await this.refresh();
      this.#context.open(room);
    } catch (error) {
      if (sessionEnded(error)) this.#context.sessionEnded();
      else this.#error.textContent = describe(error);
    }
  }
}
