// Base64 over bytes with the runtime's btoa/atob (workerd, browsers and Node
// all have them): the password hashes' salts and digests, and the tickets.

/** Standard base64, padded (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** The bytes of standard base64; throws on characters outside its alphabet. */
export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
}

/** URL-safe base64 without padding (RFC 4648 §5): safe in URLs and headers as it is. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
