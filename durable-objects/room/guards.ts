import { CLOSE, parseClientFrame, type ClientFrame, type FrameLimits, type Room } from "../../protocol/index.ts";
import type { Config } from "../../core/config.ts";
import { metrics } from "../../metrics-bridge/registry.ts";
import { MAX_STRIKES, newBucket, take, type TokenBucket } from "./rate-limit.ts";
import { close, send, type Attachment, type Socket } from "./sessions.ts";

/** A frame that passed every guard, with who sent it and where. */
export interface Admitted {
  attachment: Attachment;
  room: Room;
  frame: ClientFrame;
}

/** The settings the guards apply. */
export type GuardLimits = Pick<Config, "maxFrameBytes" | "authGraceMs" | "rateLimitPerSecond" | "rateLimitBurst"> & FrameLimits;

/**
 * The checks a text frame passes before any handler sees it, in order: a
 * text frame (1003), within the size limit (1009), a socket the room knows
 * (1011), a token not expired past the grace (4401), the socket's rate
 * limit (an error, then 4429), and a well-formed frame (an error). A frame
 * that fails is answered here, and `admit` returns null.
 */
export class FrameGuards {
  readonly #limits: GuardLimits;
  readonly #clock: () => number;
  // In memory only: a bucket starts full again after the object wakes up.
  readonly #buckets = new WeakMap<Socket, TokenBucket>();

  constructor(limits: GuardLimits, clock: () => number = Date.now) {
    this.#limits = limits;
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
    if (!this.#allow(ws)) return null;
    const parsed = parseClientFrame(message, limits);
    if (!parsed.ok) {
      send(ws, { type: "error", code: parsed.code, message: parsed.message });
      return null;
    }
    return { attachment, room, frame: parsed.value };
  }

  /** Applies the per-socket rate limit; closes with 4429 when the client keeps pushing. */
  #allow(ws: Socket): boolean {
    const now = this.#clock();
    let bucket = this.#buckets.get(ws);
    if (!bucket) {
      bucket = newBucket(this.#limits.rateLimitBurst, now);
      this.#buckets.set(ws, bucket);
    }
    if (take(bucket, { perSecond: this.#limits.rateLimitPerSecond, burst: this.#limits.rateLimitBurst }, now)) return true;
    metrics.rateLimited.inc();
    if (bucket.strikes >= MAX_STRIKES) close(ws, CLOSE.rateLimited, "rate limit exceeded");
    else send(ws, { type: "error", code: "rate_limited", message: "slow down" });
    return false;
  }
}

/** UTF-8 length of `text`, counting only as far as needed to exceed `limit`. */
export function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length;
  return new TextEncoder().encode(text).byteLength;
}
