// What the page tells a person when something was refused: the contract's
// stable codes in plain words, the server's own message otherwise.
import { RoomcastApiError, RoomClientError } from "@roomcast/client";

const WORDS: Partial<Record<string, string>> = {
  invalid_credentials: "Wrong username or password.",
  username_taken: "That username is taken; pick another.",
  room_exists: "A room with that id exists already.",
  room_not_found: "That room does not exist, or you are not a member.",
  user_not_found: "There is no user with that name.",
  forbidden: "Only the room's owner can do that.",
  body_too_long: "That message is too long.",
  network_error: "The server cannot be reached. Check your connection and try again.",
  database_unavailable: "The server's database is unavailable; try again in a moment.",
  overloaded: "The server is busy; try again in a moment.",
};

/** One sentence for a failed call. */
export function describe(error: unknown): string {
  if (error instanceof RoomcastApiError || error instanceof RoomClientError) {
    if (error instanceof RoomcastApiError && error.code === "rate_limited" && error.retryAfterMs !== undefined) {
      return `Too many attempts; try again in ${Math.ceil(error.retryAfterMs / 1000)} s.`;
    }
    return WORDS[error.code] ?? sentence(error.message);
  }
  return "Something went wrong; try again.";
}

/** True when the token is no longer accepted: the person has to log in again. */
export function sessionEnded(error: unknown): boolean {
  return (
    (error instanceof RoomcastApiError || error instanceof RoomClientError) &&
    (error.code === "unauthorized" || error.code === "token_expired")
  );
}

function sentence(message: string): string {
  const text = message.trim();
  if (!text) return "Something went wrong; try again.";
  return `${text[0]?.toUpperCase() ?? ""}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}`;
}
