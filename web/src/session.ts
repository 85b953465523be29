// Who is signed in: the token lives in sessionStorage, so a reload keeps the
// session and closing the tab ends it. Never in localStorage or a cookie.
import type { User } from "@roomcast/client";

/** A login's token, its expiry and its user. */
export interface Session {
  token: string;
  /** ISO 8601, as POST /auth/login gives it. */
  expiresAt: string;
  user: User;
}

const KEY = "roomcast.session";

/** The stored session, unless there is none, it cannot be read or it has expired. */
export function loadSession(): Session | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as unknown;
    if (!isSession(value) || Date.parse(value.expiresAt) <= Date.now()) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(session));
  } catch {
    // Storage refused (private mode, quota): the session lasts until a reload.
  }
}

export function clearSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const { token, expiresAt, user } = value as Record<string, unknown>;
  if (typeof token !== "string" || typeof expiresAt !== "string" || typeof user !== "object" || user === null) return false;
  const { id, username } = user as Record<string, unknown>;
  return typeof id === "string" && typeof username === "string";
}
