// A minimal RFC 6455 client on node:net, for tests that must send what a
// friendly client never would: invalid UTF-8 in a text frame, unknown opcodes,
// unmasked or fragmented frames, raw close codes. It writes exactly the bytes
// it is given and parses what the server sends back (frames of any size, in
// any TCP chunking); it never answers a ping or a close on its own.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/** RFC 6455 opcodes. */
export const OPCODE = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame the server sent. */
export interface RawFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

/** How to build one client frame; every field defaults to the well-formed choice. */
export interface FrameOptions {
  fin?: boolean;
  /** RSV1–3 bits (0–7); must be 0 without an extension. */
  rsv?: number;
  /** Clients must mask; false sends the payload in the clear (a protocol error). */
  mask?: boolean;
}

/** Encodes one client frame (masked unless told otherwise). */
export function encodeFrame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  const fin = options.fin ?? true;
  const masked = options.mask ?? true;
  const head: number[] = [(fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const maskBit = masked ? 0x80 : 0;
  let extended = Buffer.alloc(0);
  if (data.length < 126) head.push(maskBit | data.length);
  else if (data.length < 65_536) {
    head.push(maskBit | 126);
    extended = Buffer.alloc(2);
    extended.writeUInt16BE(data.length);
  } else {
    head.push(maskBit | 127);
    extended = Buffer.alloc(8);
    extended.writeBigUInt64BE(BigInt(data.length));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), extended, data]);
  const key = randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) body[i] = (data[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([Buffer.from(head), extended, key, body]);
}

/** A close frame's payload: the code, then a UTF-8 reason. */
export function closePayload(code: number, reason = ""): Buffer {
  const out = Buffer.alloc(2 + Buffer.byteLength(reason));
  out.writeUInt16BE(code);
  out.write(reason, 2, "utf8");
  return out;
}

/** The code and reason of a close frame's payload (1005 when it has none, as RFC 6455 reports it). */
export function parseClose(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: "" };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString("utf8") };
}

/** The upgrade was answered with something other than 101. */
export class RawUpgradeRefused extends Error {
  readonly status: number;
  readonly head: string;
  constructor(status: number, head: string) {
    super(`upgrade refused: ${status}`);
    this.status = status;
    this.head = head;
  }
}

/** A WebSocket over a plain TCP socket, after a real HTTP/1.1 upgrade. */
export class RawWebSocket {
  readonly frames: RawFrame[] = [];
  /** Set when the TCP connection ended (by either side). */
  ended = false;
  readonly #socket: Socket;
  #buffer: Buffer;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket, rest: Buffer) {
    this.#socket = socket;
    this.#buffer = rest;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const end = () => {
      this.ended = true;
      this.#wake();
    };
    socket.on("close", end);
    socket.on("error", end);
    this.#parse();
  }

  /**
   * Opens `url` (ws://host:port/path?query) with the given extra headers.
   * Rejects with {@link RawUpgradeRefused} when the answer is not 101.
   */
  static open(url: string, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<RawWebSocket> {
    const target = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(target.port || 80), target.hostname);
      let head = Buffer.alloc(0);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`upgrade of ${url} timed out`));
      }, timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      socket.once("error", fail);
      socket.once("connect", () => {
        const lines = [
          `GET ${target.pathname}${target.search} HTTP/1.1`,
          `Host: ${target.host}`,
          "Upgrade: websocket",
          "Connection: Upgrade",
          `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
          "Sec-WebSocket-Version: 13",
          ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        ];
        socket.write(`${lines.join("\r\n")}\r\n\r\n`);
      });
      const onData = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        socket.off("error", fail);
        clearTimeout(timer);
        const text = head.subarray(0, end).toString("latin1");
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        if (status !== 101) {
          socket.destroy();
          reject(new RawUpgradeRefused(status, text));
          return;
        }
        resolve(new RawWebSocket(socket, head.subarray(end + 4)));
      };
      socket.on("data", onData);
    });
  }

  /** Writes bytes as they are (one or several frames, or garbage). */
  write(bytes: Buffer): void {
    if (!this.#socket.destroyed) this.#socket.write(bytes);
  }

  /** Sends one frame. */
  send(opcode: number, payload: Buffer | string, options?: FrameOptions): void {
    this.write(encodeFrame(opcode, payload, options));
  }

  /** The text frames received so far, decoded. */
  texts(): string[] {
    return this.frames.filter((f) => f.opcode === OPCODE.text).map((f) => f.payload.toString("utf8"));
  }

  /** The server's close frame, if one came. */
  closeFrame(): { code: number; reason: string } | null {
    const frame = this.frames.find((f) => f.opcode === OPCODE.close);
    return frame ? parseClose(frame.payload) : null;
  }

  /** Waits until `check` holds or the timeout passes; returns whether it held. */
  async until(check: () => boolean, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#waiters.delete(done);
          resolve();
        };
        this.#waiters.add(done);
        setTimeout(done, 50);
      });
    }
    return true;
  }

  /** Ends the TCP connection at once (no close handshake). */
  destroy(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  #parse(): void {
    for (;;) {
      const buffer = this.#buffer;
      if (buffer.length < 2) break;
      const first = buffer[0] ?? 0;
      const second = buffer[1] ?? 0;
      let length = second & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) break;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (buffer.length < 10) break;
        length = Number(buffer.readBigUInt64BE(2));
        offset = 10;
      }
      const masked = (second & 0x80) !== 0;
      const key = masked ? buffer.subarray(offset, offset + 4) : null;
      if (masked) offset += 4;
      if (buffer.length < offset + length) break;
      const payload = Buffer.from(buffer.subarray(offset, offset + length));
      if (key) for (let i = 0; i < payload.length; i++) payload[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
      this.frames.push({ fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload });
      this.#buffer = buffer.subarray(offset + length);
    }
    this.#wake();
  }
}
