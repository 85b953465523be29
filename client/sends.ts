// The client's sends: each waits, by clientMsgId, for its ack and the promise
// send() returned is settled once. The server's error frames name no
// clientMsgId, so a send the contract refuses is caught here before it
// leaves, with the same parser the room uses.
import { parseClientFrame } from "../protocol/frames.ts";
import { DEFAULT_LIMITS } from "../protocol/limits.ts";
import { RoomClientError } from "./errors.ts";

/** Outside test mode, `acked`, `ackLatencies`, `closes` and `resyncs` keep this many of their newest entries. */
export const RECENT = 1000;

/** Appends to a list, keeping only the newest {@link RECENT} entries unless `record`. */
export function keepRecent(list: number[], value: number, record: boolean): void {
  list.push(value);
  if (!record && list.length > RECENT) list.splice(0, list.length - RECENT);
}

interface Waiter {
  promise: Promise<number>;
  resolve: (seq: number) => void;
  reject: (error: Error) => void;
}

/** The limits a send is checked against before it leaves (the contract's defaults unless the deployment's are given). */
export interface SendLimits {
  maxBodyChars: number;
  maxFrameBytes: number;
}

/** A promise already rejected, marked handled so that a caller may ignore it. */
export function rejected(error: Error): Promise<number> {
  const promise = Promise.reject(error);
  promise.catch(() => {});
  return promise;
}

/** Sends waiting for their ack, and the acks and latencies seen. */
export class Sends {
  /** clientMsgId → body of sends not yet acknowledged, in the order they were made. */
  readonly pending = new Map<string, string>();
  /** clientMsgId → seq of acknowledged sends (all in test mode, else the newest {@link RECENT}). */
  readonly acked = new Map<string, number>();
  /** Milliseconds from each send to its ack (all in test mode, else the newest {@link RECENT}). */
  readonly ackLatencies: number[] = [];
  readonly #waiters = new Map<string, Waiter>();
  readonly #sentAt = new Map<string, number>();
  readonly #record: boolean;
  #limits: SendLimits;

  constructor(record: boolean, limits: Partial<SendLimits> = {}) {
    this.#record = record;
    this.#limits = { maxBodyChars: DEFAULT_LIMITS.maxBodyChars, maxFrameBytes: DEFAULT_LIMITS.maxFrameBytes, ...limits };
  }

  /**
   * Adds a send and returns its promise (the pending one's again for a
   * clientMsgId already pending), or a rejected promise when the contract
   * would refuse the frame. Every promise returned is marked handled.
   */
  add(clientMsgId: string, body: string): Promise<number> {
    const waiting = this.#waiters.get(clientMsgId);
    if (waiting) return waiting.promise;
    const refusal = this.#check(clientMsgId, body);
    if (refusal) return rejected(refusal);
    const waiter = {} as Waiter;
    waiter.promise = new Promise<number>((resolve, reject) => Object.assign(waiter, { resolve, reject }));
    waiter.promise.catch(() => {});
    this.#waiters.set(clientMsgId, waiter);
    this.pending.set(clientMsgId, body);
    this.#sentAt.set(clientMsgId, Date.now());
    return waiter.promise;
  }

  /** Settles a pending send with its seq; false when it was not pending (a repeated ack). */
  ack(clientMsgId: string, seq: number): boolean {
    if (!this.pending.delete(clientMsgId)) return false;
    const sentAt = this.#sentAt.get(clientMsgId);
    if (sentAt !== undefined) keepRecent(this.ackLatencies, Date.now() - sentAt, this.#record);
    this.#sentAt.delete(clientMsgId);
    this.acked.delete(clientMsgId);
    this.acked.set(clientMsgId, seq);
    if (!this.#record && this.acked.size > RECENT) this.acked.delete(this.acked.keys().next().value as string);
    this.#waiters.get(clientMsgId)?.resolve(seq);
    this.#waiters.delete(clientMsgId);
    return true;
  }

  /** Gives up on one pending send. */
  reject(clientMsgId: string, error: Error): void {
    this.pending.delete(clientMsgId);
    this.#sentAt.delete(clientMsgId);
    this.#waiters.get(clientMsgId)?.reject(error);
    this.#waiters.delete(clientMsgId);
  }

  /** Gives up on every pending send. */
  rejectAll(error: Error): void {
    for (const id of [...this.pending.keys()]) this.reject(id, error);
  }

  /**
   * The server answered `body_too_long`: its limit is below ours. The frame
   * does not say which send it refused; the refused ones are the longest. With
   * the limit the error names, every pending send longer than it is rejected
   * and later sends are checked against it; without one, the longest.
   */
  refuseTooLong(message: string): void {
    const limit = Number(/(\d+)/.exec(message)?.[1]);
    const error = (id: string) => new RoomClientError("body_too_long", `message ${id} refused by the server: ${message}`);
    if (Number.isInteger(limit) && limit > 0) {
      this.#limits = { ...this.#limits, maxBodyChars: Math.min(this.#limits.maxBodyChars, limit) };
      for (const [id, body] of [...this.pending]) if (body.length > limit) this.reject(id, error(id));
      return;
    }
    const longest = this.#largest((_id, body) => body.length);
    if (longest !== undefined) this.reject(longest, error(longest));
  }

  /** The server closed with 1009 (a frame too big): the pending send with the largest frame cannot be sent as it is. */
  refuseLargest(): void {
    const largest = this.#largest((id, body) => frameBytes(id, body));
    if (largest !== undefined) {
      this.reject(largest, new RoomClientError("body_too_long", `message ${largest} is larger than the server's frame limit`));
    }
  }

  #largest(size: (id: string, body: string) => number): string | undefined {
    let found: string | undefined;
    let most = -1;
    for (const [id, body] of this.pending) {
      const n = size(id, body);
      if (n > most) [found, most] = [id, n];
    }
    return found;
  }

  #check(clientMsgId: string, body: string): RoomClientError | null {
    const frame = JSON.stringify({ type: "send", clientMsgId, body });
    const parsed = parseClientFrame(frame, this.#limits);
    if (!parsed.ok) return new RoomClientError(parsed.code === "body_too_long" ? "body_too_long" : "bad_request", parsed.message);
    const bytes = new TextEncoder().encode(frame).byteLength;
    if (bytes > this.#limits.maxFrameBytes) {
      return new RoomClientError("body_too_long", `the frame is ${bytes} bytes, more than ${this.#limits.maxFrameBytes}`);
    }
    return null;
  }
}

function frameBytes(clientMsgId: string, body: string): number {
  return new TextEncoder().encode(JSON.stringify({ type: "send", clientMsgId, body })).byteLength;
}
