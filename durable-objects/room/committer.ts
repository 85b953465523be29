import type { Config } from "../../core/config.ts";
import type { HttpErrorCode, Message, Room, User } from "../../protocol/index.ts";
import type { LeaseEvent } from "../database/lease-keeper.ts";
import type { RoomDatabase } from "./room-database.ts";
import type { Accepted, Sequencer } from "./sequencer.ts";
import type { RoomStore } from "./storage.ts";

/** Why the room refused a call; the Worker maps it to the HTTP error of the same code. */
export type RoomRefusal = Extract<HttpErrorCode, "database_unavailable" | "overloaded">;

/** What became of a message: the sequencer's answer, or, in multi-process mode, the room moved or PostgreSQL could not commit. */
export type SendOutcome = Accepted | { kind: "moved" } | { kind: "unavailable" };

/**
 * When a message may be acknowledged, and what the room must hold before it
 * serves anyone. Chosen once, when the room starts (ChatRoom's constructor):
 * - single process (`LocalCommitter`): ack after the room's SQLite
 *   write; PostgreSQL gets a copy from the outbox afterwards;
 * - several processes, NODE_ID set (`LeasedCommitter`): ack after the
 *   process's database service committed the message to PostgreSQL, under the
 *   room's lease.
 */
export interface Committer {
  /** Before serving: true, or why the room refuses. */
  ready(room: Room): Promise<true | RoomRefusal>;
  /** Seconds a client refused with `overloaded` should wait. */
  readonly retryAfterS: number;
  /** Stores a message; resolves when it may be acknowledged. */
  accept(room: Room, user: User, clientMsgId: string, body: string): Promise<SendOutcome>;
  /** The newest seq clients may see. */
  visibleHead(): number;
  /** The alarm: does the work that is due. */
  alarm(room: Room, now: number): Promise<void>;
  /** When the committer next needs the alarm (ms since the epoch); null for never. */
  dueAt(now: number): number | null;
  /** Gives the room up at once (drain). */
  release(reason: string): Promise<void>;
  /** News from the process's lease keeper. */
  leaseEvent(epoch: number, event: LeaseEvent): Promise<void>;
}

/** What a committer needs from the room around it. */
export interface CommitterParts {
  config: Config;
  store: RoomStore;
  sequencer: Sequencer;
  database: RoomDatabase;
  /** A message may now be seen: count it and broadcast it. */
  committed(message: Message): void;
  /** The outbox changed (for the room's metrics). */
  outboxChanged(): void;
  /** Sets the alarm for whatever is due next. */
  arm(): Promise<void>;
  /** The room moved away: tell every client to reconnect. */
  moved(reason: string): void;
  /** True while the room holds sockets. */
  hasSockets(): boolean;
  /** Runs work with no other event delivered meanwhile (`blockConcurrencyWhile`). */
  exclusive(work: () => Promise<void>): Promise<void>;
  /** Keeps the object alive for work that outlives the event (`waitUntil`). */
  background(work: Promise<unknown>): void;
}

/** The text of an error for a log line. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
