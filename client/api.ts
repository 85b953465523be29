// A typed fetch wrapper over the contract's HTTP routes: every answer is
// parsed with the protocol's response schemas, every refusal becomes a
// RoomcastApiError with the contract's stable code.
import type { z } from "zod";
import { ErrorBody, type HttpErrorCode } from "../protocol/codes.ts";
import {
  LoginResponse,
  MessageResponse,
  MessagesResponse,
  RegisterResponse,
  RoomResponse,
  RoomsResponse,
  TicketResponse,
} from "../protocol/http.ts";
import type { Message, Room, RoomType, User } from "../protocol/model.ts";

/**
 * The part of `fetch` the client uses: the global `fetch` of browsers and
 * Node fits it. Declared here so that the package's types need no DOM lib.
 */
export type FetchLike = (
  input: string,
  init?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/** Where the API is and who is calling. */
export interface RoomcastApiOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8787`; `""` for the page's own origin in a browser. */
  server: string;
  /** The bearer token for routes that need one (called per request); none for register and login. */
  token?: () => string | undefined | Promise<string | undefined>;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
}

/** What a refusal's `code` can be: the contract's code, or why there was no answer to read. */
export type RoomcastApiErrorCode = HttpErrorCode | "network_error" | "bad_response";

/** An HTTP call that did not succeed: the contract's status and stable code, and `Retry-After` in ms when given. */
export class RoomcastApiError extends Error {
  override readonly name = "RoomcastApiError";
  /** The HTTP status; 0 when the request got no answer. */
  readonly status: number;
  readonly code: RoomcastApiErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, code: RoomcastApiErrorCode, message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The contract's HTTP API (docs/protocol.md), one method per route. */
export class RoomcastApi {
  readonly #server: string;
  readonly #token: RoomcastApiOptions["token"];
  readonly #fetch: FetchLike | undefined;

  constructor(options: RoomcastApiOptions) {
    this.#server = options.server.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch;
  }

  /** `POST /auth/register`: the new user. */
  async register(username: string, password: string): Promise<User> {
    return (await this.#call("POST", "/auth/register", RegisterResponse, { username, password }, false)).user;
  }

  /** `POST /auth/login`: a bearer token, its expiry (ISO 8601) and the user. */
  login(username: string, password: string): Promise<LoginResponse> {
    return this.#call("POST", "/auth/login", LoginResponse, { username, password }, false);
  }

  /** `GET /auth/me`: the token's user. */
  async me(): Promise<User> {
    return (await this.#call("GET", "/auth/me", RegisterResponse)).user;
  }

  /** `POST /auth/ticket`: a single-use ticket (30 s) for opening one WebSocket. */
  ticket(): Promise<TicketResponse> {
    return this.#call("POST", "/auth/ticket", TicketResponse);
  }

  /** `GET /rooms`: public rooms and the private rooms the caller belongs to. */
  async rooms(): Promise<Room[]> {
    return (await this.#call("GET", "/rooms", RoomsResponse)).rooms;
  }

  /** `GET /rooms/:id`. */
  async room(id: string): Promise<Room> {
    return (await this.#call("GET", `/rooms/${encodeURIComponent(id)}`, RoomResponse)).room;
  }

  /** `POST /rooms`: the caller owns the new room. */
  async createRoom(room: { id: string; name?: string; type: RoomType }): Promise<Room> {
    return (await this.#call("POST", "/rooms", RoomResponse, room)).room;
  }

  /** `POST /rooms/:id/members` (the owner only). */
  async addMember(roomId: string, username: string): Promise<void> {
    await this.#call("POST", `/rooms/${encodeURIComponent(roomId)}/members`, null, { username });
  }

  /** `GET /rooms/:id/messages`: one page, ascending by seq, after or before a seq (at most 200). */
  async messages(roomId: string, query: { after?: number; before?: number; limit?: number } = {}): Promise<Message[]> {
    const params = new URLSearchParams();
    for (const key of ["after", "before", "limit"] as const) {
      const value = query[key];
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.toString() ? `?${params.toString()}` : "";
    return (await this.#call("GET", `/rooms/${encodeURIComponent(roomId)}/messages${search}`, MessagesResponse)).messages;
  }

  /** `POST /rooms/:id/messages`: stored (or found again by `clientMsgId`) like a WebSocket send. */
  async publish(roomId: string, clientMsgId: string, body: string): Promise<Message> {
    return (await this.#call("POST", `/rooms/${encodeURIComponent(roomId)}/messages`, MessageResponse, { clientMsgId, body })).message;
  }

  async #call<S extends z.ZodType>(method: string, path: string, schema: S, json?: unknown, auth?: boolean): Promise<z.infer<S>>;
  async #call(method: string, path: string, schema: null, json?: unknown, auth?: boolean): Promise<void>;
  async #call(method: string, path: string, schema: z.ZodType | null, json?: unknown, auth = true): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (auth) {
      const token = await this.#token?.();
      if (token) headers.Authorization = `Bearer ${token}`;
    }
    if (json !== undefined) headers["Content-Type"] = "application/json";
    const fetcher = this.#fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!fetcher) throw new Error("no fetch: pass one in the options");
    let response: Awaited<ReturnType<FetchLike>>;
    let text: string;
    try {
      response = await fetcher(this.#server + path, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
      text = await response.text();
    } catch (error) {
      throw new RoomcastApiError(0, "network_error", `${method} ${path}: no answer (${String(error)})`, undefined, { cause: error });
    }
    const { status } = response;
    const body = parseJson(text);
    if (status < 200 || status >= 300) {
      const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"));
      const parsed = ErrorBody.safeParse(body);
      if (parsed.success) throw new RoomcastApiError(status, parsed.data.error.code, parsed.data.error.message, retryAfterMs);
      throw new RoomcastApiError(status, "bad_response", `${method} ${path}: ${status} without the contract's error body`, retryAfterMs);
    }
    if (schema === null) return undefined;
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new RoomcastApiError(status, "bad_response", `${method} ${path}: unexpected answer`);
    return parsed.data;
  }
}

function parseJson(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

/** `Retry-After` (seconds, or an HTTP date) in ms; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
