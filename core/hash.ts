/**
 * FNV-1a, 32 bits, over the string's UTF-16 code units: a stable spread of
 * keys (room ids, usernames, addresses) over shards, the same in every
 * isolate and process. Not for anything an attacker must not predict.
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
