// Token renewal on an open socket: a fresh token sent as an `auth` frame
// `beforeMs` ahead of the current one's expiry, then again for the fresh one.
import type { RoomClientOptions, SocketLike } from "./options.ts";

/** How long a renewal that found no fresher token waits before asking again. */
const RENEW_RETRY_MS = 2000;

export class Renewal {
  readonly #renew: RoomClientOptions["renew"];
  /** The client's socket now, if open. */
  readonly #socket: () => SocketLike | null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(renew: RoomClientOptions["renew"], socket: () => SocketLike | null) {
    this.#renew = renew;
    this.#socket = socket;
  }

  /** Plans the next renewal: `beforeMs` ahead of `expiresAt`, or after `delayMs`. */
  schedule(expiresAt = this.#renew?.expiresAt(), delayMs?: number): void {
    const renew = this.#renew;
    if (!renew || expiresAt === undefined) return;
    this.cancel();
    this.#timer = setTimeout(
      () => {
        renew.fresh().then(
          (fresh) => {
            const socket = this.#socket();
            if (socket?.readyState !== 1) return;
            // A token no newer than the socket's would not extend its life
            // (or would shorten it): ask again shortly. The server closes the
            // socket with 4401 if no fresher one comes.
            if (fresh.expiresAt <= expiresAt) return this.schedule(expiresAt, RENEW_RETRY_MS);
            socket.send(JSON.stringify({ type: "auth", token: fresh.token }));
            this.schedule(fresh.expiresAt);
          },
          // No token at all: the same.
          () => this.schedule(expiresAt, RENEW_RETRY_MS),
        );
      },
      delayMs ?? Math.max(0, expiresAt - renew.beforeMs - Date.now()),
    );
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
