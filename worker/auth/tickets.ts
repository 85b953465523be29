import { toBase64Url } from "./base64.ts";

/** Tickets live 30 s and open one WebSocket. */
export const TICKET_TTL_MS = 30_000;

/** A new random ticket (256 bits). */
export function newTicket(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The SHA-256 the database keeps instead of the ticket itself. */
export async function ticketHash(ticket: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ticket));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
