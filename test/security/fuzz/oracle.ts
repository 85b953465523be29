// What the room must answer to one frame, worked out on the fuzzer's side
// from the contract: the guards' order (binary 1003, size 1009, the message
// budget, then the parser of protocol/frames.ts), then each handler's answer.
import { CLOSE, parseClientFrame, type FrameErrorCode } from "../../../protocol/index.ts";
import { AUTO_PING, roomText, type FuzzFrame } from "./generate.ts";

/** The answer a frame must get. */
export type Expected =
  /** The socket is closed with this code; frames after it are not read. */
  | { kind: "close"; code: number }
  /** An error frame with this code. */
  | { kind: "error"; code: FrameErrorCode }
  /** An `ack` (or the error `overloaded` if the outbox is full). */
  | { kind: "ack" }
  /** A `pong`. `free` when workerd answers it without the room (no budget spent). */
  | { kind: "pong"; free: boolean }
  /** A `pong`, or a close 4001 when the receipt is further behind the head than SLOW_CONSUMER_LAG. */
  | { kind: "receipt" }
  /** Messages or `resync_required`; a close 4001 if the replays outgrow the socket's send buffer (SEND_BUFFER_MAX_BYTES). */
  | { kind: "resume" }
  /** Nothing counted: typing, a fresh token of the same user. */
  | { kind: "silent" };

/** The limits of the server under test. */
export interface OracleLimits {
  maxBodyChars: number;
  maxFrameBytes: number;
}

/** The answer to `frame` from a socket of the user whose valid tokens are `selfTokens`. */
export function expected(frame: FuzzFrame, limits: OracleLimits, selfTokens: ReadonlySet<string>): Expected {
  if (frame.binary) return { kind: "close", code: CLOSE.unsupportedData };
  const text = roomText(frame);
  if (Buffer.byteLength(text, "utf8") > limits.maxFrameBytes) return { kind: "close", code: CLOSE.tooBig };
  if (text === AUTO_PING) return { kind: "pong", free: true };
  const parsed = parseClientFrame(text, { maxBodyChars: limits.maxBodyChars });
  if (!parsed.ok) return { kind: "error", code: parsed.code };
  const value = parsed.value;
  switch (value.type) {
    case "send":
      return { kind: "ack" };
    case "ping":
      return value.lastSeq === undefined ? { kind: "pong", free: false } : { kind: "receipt" };
    case "auth":
      return selfTokens.has(value.token) ? { kind: "silent" } : { kind: "error", code: "unauthorized" };
    case "resume":
      return { kind: "resume" };
    case "typing":
      return { kind: "silent" };
  }
}

/** The clientMsgId the room will ack for a send frame (after its decoding), or null. */
export function ackedId(frame: FuzzFrame): string | null {
  try {
    const value = JSON.parse(roomText(frame)) as { clientMsgId?: unknown };
    return typeof value.clientMsgId === "string" ? value.clientMsgId : null;
  } catch {
    return null;
  }
}
