// The chat page: log in or register, then rooms and the chat. The token is
// kept in sessionStorage (session.ts); everything else lives in memory.
import "./no-eval.ts";
import { RoomcastApi, type Room, type User } from "@roomcast/client";
import { Chat } from "./chat.ts";
import { byId, show } from "./dom.ts";
import { describe } from "./errors.ts";
import { Rooms } from "./rooms.ts";
import { clearSession, loadSession, saveSession, type Session } from "./session.ts";

/** How often the room list is read again while the page is visible (rooms others add you to). */
const ROOMS_EVERY_MS = 15_000;

let session: Session | undefined = loadSession();

const authView = byId("auth-view", HTMLElement);
const appView = byId("app-view", HTMLDivElement);
const authForm = byId("auth-form", HTMLFormElement);
const username = byId("auth-username", HTMLInputElement);
const password = byId("auth-password", HTMLInputElement);
const authError = byId("auth-error", HTMLParagraphElement);
const account = byId("account", HTMLDivElement);
const notice = byId("notice", HTMLParagraphElement);

const api = new RoomcastApi({ server: location.origin, token: () => session?.token });

function notify(text: string): void {
  notice.textContent = text;
}

/** The token was refused or the person logged out: back to the form. */
function signOut(message = ""): void {
  chat.close();
  rooms.clear();
  session = undefined;
  clearSession();
  history.replaceState(null, "", location.pathname);
  account.hidden = true;
  authError.textContent = message;
  show(authView, appView);
  username.focus();
}

const context = {
  api,
  token: () => session?.token ?? "",
  user: (): User => session?.user ?? { id: "", username: "" },
  notify,
  sessionEnded: () => signOut("Your session has ended; log in again."),
};
const chat = new Chat(context);
const rooms = new Rooms({ ...context, open: openRoom });

function openRoom(room: Room): void {
  notify("");
  chat.open(room);
  rooms.select(room.id);
  // The room in the address, so that a reload comes back to it.
  history.replaceState(null, "", `#room=${encodeURIComponent(room.id)}`);
}

async function signedIn(focus: boolean): Promise<void> {
  if (!session) return;
  byId("me", HTMLElement).textContent = session.user.username;
  account.hidden = false;
  authForm.reset();
  authError.textContent = "";
  show(appView, authView);
  if (focus) byId("rooms-heading", HTMLHeadingElement).focus();
  if (!(await rooms.refresh())) return;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("room");
  const room = wanted ? rooms.find(wanted) : undefined;
  if (room) openRoom(room);
}

authForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const register = (event.submitter as HTMLButtonElement | null)?.value === "register";
  void logIn(register);
});

async function logIn(register: boolean): Promise<void> {
  const name = username.value.trim();
  if (!name || !password.value) {
    authError.textContent = "Enter a username and a password.";
    (name ? password : username).focus();
    return;
  }
  authError.textContent = register ? "Registering…" : "Logging in…";
  try {
    if (register) await api.register(name, password.value);
    const { token, expiresAt, user } = await api.login(name, password.value);
    session = { token, expiresAt, user };
    saveSession(session);
    await signedIn(true);
  } catch (error) {
    authError.textContent = describe(error);
  }
}

byId("logout", HTMLButtonElement).addEventListener("click", () => signOut());

setInterval(() => {
  if (session && document.visibilityState === "visible") void rooms.refresh();
}, ROOMS_EVERY_MS);
document.addEventListener("visibilitychange", () => {
  if (session && document.visibilityState === "visible") void rooms.refresh();
});

if (session) void signedIn(false);
else show(authView, appView);
