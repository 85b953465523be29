import { CLOSE, parseClientFrame, type ClientFrame, type FrameLimits, type Room } from "../../protocol/index.ts";
import type { Config } from "../../core/config.ts";
import type { MessageBudget } from "./rate-limit.ts";
import { close, send, type Attachment, type Socket } from "./sessions.ts";

/** A frame that passed every guard, with who sent it and where. */
export interface Admitted {
  attachment: Attachment;
  room: Room;
  frame: ClientFrame;
}

/** The settings the guards apply (the rate limit is the room's {@link MessageBudget}). */
export type GuardLimits = Pick<Config, "maxFrameBytes" | "authGraceMs"> & FrameLimits;

/**
 * The checks a text frame passes before any handler sees it, in order: a
 * text frame (1003), within the size limit (1009), a socket the room knows
 * (1011), a token not expired past the grace (4401), the user's message
 * budget (an error, then 4429), and a well-formed frame (an error). A frame
 * that fails is answered here, and `admit` returns null.
 */
export class FrameGuards {
  readonly #limits: GuardLimits;
  readonly #budget: MessageBudget;
  readonly #clock: () => number;

  constructor(limits: GuardLimits, budget: MessageBudget, clock: () => number = Date.now) {
    this.#limits = limits;
    this.#budget = budget;
    this.#clock = clock;
  }

  admit(ws: Socket, message: string | ArrayBuffer, attachment: Attachment | null, room: Room | null): Admitted | null {
    const limits = this.#limits;
    if (typeof message !== "string") {
      close(ws, CLOSE.unsupportedData, "binary frames are not supported");
      return null;
    }
    if (utf8Length(message, limits.maxFrameBytes) > limits.maxFrameBytes) {
      close(ws, CLOSE.tooBig, `frame larger than ${limits.maxFrameBytes} bytes`);
      return null;
    }
    if (!attachment || !room) {
      close(ws, CLOSE.internal, "session state lost");
      return null;
    }
    if (this.#clock() > attachment.exp * 1000 + limits.authGraceMs) {
      close(ws, CLOSE.unauthorized, "token expired");
      return null;
    }
    if (!this.#allow(ws, attachment.user.id)) return null;
    const parsed = parseClientFrame(message, limits);
    if (!parsed.ok) {
      send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return null;
    }
    return { attachment, room, frame: parsed.value };
  }

  /** Draws on the user's message budget; closes with 4429 when this socket keeps pushing. */
  #allow(ws: Socket, userId: string): boolean {
    const verdict = this.#budget.frame(ws, userId, this.#clock());
    if (verdict === "pass") return true;
    if (verdict === "close") close(ws, CLOSE.rateLimited, "rate limit exceeded");
    else send(ws, { type: "error", code: "rate_limited", message: "slow down" });
    return false;
  }
}

/** UTF-8 length of `text`, counting only as far as needed to exceed `limit`. */
export function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  return new TextEncoder().encode(text).byteLength;
}
