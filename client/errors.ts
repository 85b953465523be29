import type { RoomcastApiErrorCode } from "./api.ts";

/**
 * Why a send was rejected or a client closed for good: `stopped` (the app
 * called `stop()`), a send the contract refuses (`body_too_long`,
 * `bad_request`), a socket the server closed with 4401 (`unauthorized`) or
 * 4403 (`forbidden`), or the code of an HTTP refusal while connecting
 * (e.g. `unauthorized`, `room_not_found`; then `cause` is the RoomcastApiError).
 */
export type RoomClientErrorCode = "stopped" | "body_too_long" | "bad_request" | RoomcastApiErrorCode;

/** What `RoomClient#send` rejects with, and `RoomClient#failure`. */
export class RoomClientError extends Error {
  override readonly name = "RoomClientError";
  readonly code: RoomClientErrorCode;

  constructor(code: RoomClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
