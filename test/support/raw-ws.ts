// A minimal RFC 6455 client on node:net for the security suite: it writes the
// handshake and every frame byte by byte, so a test can send what no friendly
// client would (any opcode, fin and rsv bits, lengths that lie, unmasked
// frames, fragmented control frames, invalid UTF-8), and it records exactly
// what the server answers: the HTTP status of a refused upgrade, each frame,
// the close code and reason, and when the TCP connection ended. It never
// answers a ping or a close on its own. The protocol fuzzer's raw-TCP test
// (test/security/fuzz.test.ts) uses it too.
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";

/** Opcodes of RFC 6455 §5.2. */
export const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** One frame as it came off the wire (server frames are never masked). */
export interface WireFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  payload: Buffer;
}

/** The parts of a frame a test may set; anything left out is a well-formed final masked frame. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer | string;
  fin?: boolean;
  /** RSV1–3 as a 3-bit number. */
  rsv?: number;
  /** False sends the payload unmasked, which a server must refuse (RFC 6455 §5.1). */
  mask?: boolean;
  /** A payload length to announce instead of the real one. */
  announcedLength?: number;
}

/** Encodes one client frame. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = typeof spec.payload === "string" ? Buffer.from(spec.payload, "utf8") : (spec.payload ?? Buffer.alloc(0));
  const length = spec.announcedLength ?? payload.length;
  const mask = spec.mask ?? true;
  const first = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const head: number[] = [first];
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) head.push(maskBit | length);
  else if (length < 65536) head.push(maskBit | 126, length >> 8, length & 0xff);
  else {
    const big = Buffer.alloc(8);
    big.writeBigUInt64BE(BigInt(length));
    head.push(maskBit | 127, ...big);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const masked = Buffer.alloc(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = (payload[i] ?? 0) ^ (key[i % 4] ?? 0);
  return Buffer.concat([Buffer.from(head), key, masked]);
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason = ""): Buffer {
  const buffer = Buffer.alloc(2 + Buffer.byteLength(reason));
  buffer.writeUInt16BE(code, 0);
  buffer.write(reason, 2);
  return buffer;
}

/** What a server answered to a handshake it did not accept. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one HTTP response head (and a Content-Length body) from `socket`. */
function readHttpAnswer(socket: Socket, timeoutMs: number): Promise<{ answer: HttpAnswer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no HTTP answer within ${timeoutMs} ms`)), timeoutMs);
    const done = (error: Error | null, value?: { answer: HttpAnswer; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (error) reject(error);
      else if (value) resolve(value);
    };
    const parse = (final: boolean) => {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) {
        if (final) done(new Error(`connection closed before an HTTP answer: ${JSON.stringify(buffer.toString("latin1"))}`));
        return;
      }
      const [statusLine = "", ...lines] = buffer.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const after = buffer.subarray(end + 4);
      if (status === 101) return done(null, { answer: { status, headers, body: "" }, rest: after });
      const length = Number(headers["content-length"] ?? NaN);
      if (Number.isFinite(length)) {
        if (after.length < length && !final) return;
        return done(null, { answer: { status, headers, body: after.subarray(0, length).toString("utf8") }, rest: Buffer.alloc(0) });
      }
      // Chunked or close-delimited: good enough for the short JSON error bodies.
      if (!final && !/chunked/i.test(headers["transfer-encoding"] ?? "")) return;
      if (!final && !after.includes("0\r\n\r\n")) return;
      const body = /chunked/i.test(headers["transfer-encoding"] ?? "") ? dechunk(after) : after.toString("utf8");
      done(null, { answer: { status, headers, body }, rest: Buffer.alloc(0) });
    };
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      parse(false);
    };
    const onClose = () => parse(true);
    const onError = (error: Error) => done(error);
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.on("error", onError);
  });
}

function dechunk(data: Buffer): string {
  let out = "";
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString("latin1"), 16);
    if (!size) break;
    out += data.subarray(eol + 2, eol + 2 + size).toString("utf8");
    at = eol + 2 + size + 2;
  }
  return out;
}

/** The handshake's request head, with the headers a test chose (null drops a default). */
export function handshakeRequest(url: URL, headers: Record<string, string | null> = {}): string {
  const defaults: Record<string, string> = {
    Host: url.host,
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    "Sec-WebSocket-Version": "13",
  };
  const merged: Record<string, string> = { ...defaults };
  for (const [name, value] of Object.entries(headers)) {
    const existing = Object.keys(merged).find((k) => k.toLowerCase() === name.toLowerCase());
    if (existing) delete merged[existing];
    if (value !== null) merged[name] = value;
  }
  const lines = Object.entries(merged).map(([k, v]) => `${k}: ${v}`);
  return `GET ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join("\r\n")}\r\n\r\n`;
}

/** Opens a TCP connection to the server of `base`. */
export function tcpConnect(base: string): Promise<Socket> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Sends a handshake; resolves with the open socket on 101, or with the HTTP answer otherwise. */
export async function rawUpgrade(
  base: string,
  path: string,
  headers: Record<string, string | null> = {},
  timeoutMs = 10_000,
): Promise<{ ok: true; socket: RawSocket; answer: HttpAnswer } | { ok: false; answer: HttpAnswer }> {
  const url = new URL(path, base);
  const socket = await tcpConnect(base);
  socket.setNoDelay(true);
  socket.write(handshakeRequest(url, headers));
  const { answer, rest } = await readHttpAnswer(socket, timeoutMs).catch((error: unknown) => {
    socket.destroy();
    throw error;
  });
  if (answer.status !== 101) {
    socket.destroy();
    return { ok: false, answer };
  }
  return { ok: true, socket: new RawSocket(socket, rest), answer };
}

/** Sends a raw HTTP request and reads the answer (no WebSocket). */
export async function rawHttp(base: string, request: string, timeoutMs = 10_000): Promise<HttpAnswer> {
  const socket = await tcpConnect(base);
  socket.write(request);
  try {
    return (await readHttpAnswer(socket, timeoutMs)).answer;
  } finally {
    socket.destroy();
  }
}

/** An open WebSocket at the frame level. */
export class RawSocket {
  readonly frames: WireFrame[] = [];
  /** Complete text messages (reassembled), as UTF-8 strings. */
  readonly texts: string[] = [];
  /** The server's close frame, if one came. */
  closeFrame: { code: number | null; reason: string } | null = null;
  /** Set when the TCP connection ended (FIN, RST or destroy). */
  ended = false;
  endedAt = 0;
  readonly socket: Socket;
  #buffer: Buffer;
  #fragments: Buffer[] = [];
  readonly #waiters = new Set<() => void>();

  constructor(socket: Socket, initial: Buffer = Buffer.alloc(0)) {
    this.socket = socket;
    this.#buffer = initial;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#drain();
    });
    const end = () => {
      if (!this.ended) {
        this.ended = true;
        this.endedAt = Date.now();
      }
      this.#wake();
    };
    socket.on("close", end);
    socket.on("end", end);
    socket.on("error", end);
    this.#drain();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }

  #drain(): void {
    for (;;) {
      const b = this.#buffer;
      if (b.length < 2) return;
      const first = b[0] ?? 0;
      const second = b[1] ?? 0;
      let length = second & 0x7f;
      let at = 2;
      if (length === 126) {
        if (b.length < 4) return;
        length = b.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (b.length < 10) return;
        length = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      const masked = (second & 0x80) !== 0;
      if (masked) at += 4;
      if (b.length < at + length) return;
      let payload = Buffer.from(b.subarray(at, at + length));
      if (masked) {
        const key = b.subarray(at - 4, at);
        payload = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] ?? 0)));
      }
      this.#buffer = b.subarray(at + length);
      const frame = { fin: (first & 0x80) !== 0, rsv: (first >> 4) & 7, opcode: first & 0x0f, payload };
      this.frames.push(frame);
      this.#onFrame(frame);
      this.#wake();
    }
  }

  #onFrame(frame: WireFrame): void {
    if (frame.opcode === OP.close) {
      this.closeFrame = {
        code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : null,
        reason: frame.payload.subarray(2).toString("utf8"),
      };
      return;
    }
    if (frame.opcode === OP.text || frame.opcode === OP.continuation || frame.opcode === OP.binary) {
      this.#fragments.push(frame.payload);
      if (frame.fin) {
        this.texts.push(Buffer.concat(this.#fragments).toString("utf8"));
        this.#fragments = [];
      }
    }
  }

  /** The text messages parsed as JSON objects. */
  json(): Record<string, unknown>[] {
    return this.texts.map((t) => JSON.parse(t) as Record<string, unknown>);
  }

  /** The JSON frames of one `type`. */
  ofType(type: string): Record<string, unknown>[] {
    return this.json().filter((f) => f.type === type);
  }

  write(data: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  frame(spec: FrameSpec): void {
    this.write(encodeFrame(spec));
  }

  text(data: string | Buffer): void {
    this.frame({ opcode: OP.text, payload: data });
  }

  sendJson(value: unknown): void {
    this.text(JSON.stringify(value));
  }

  close(code = 1000, reason = ""): void {
    this.frame({ opcode: OP.close, payload: closePayload(code, reason) });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until `check` holds or the timeout passes; returns whether it held (never throws). */
  async holds(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        setTimeout(wake, 50);
      });
    }
    return true;
  }

  /** Waits until `check` holds; throws with what arrived so far if it does not in time. */
  async until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (!(await this.holds(check, timeoutMs))) {
      throw new Error(
        `timed out waiting for ${what}; texts ${JSON.stringify(this.texts.slice(-5))}, close ${JSON.stringify(this.closeFrame)}, ended ${this.ended}`,
      );
    }
  }

  /** Waits for `n` JSON frames of a type and returns them. */
  async waitType(type: string, n = 1, timeoutMs = 10_000): Promise<Record<string, unknown>[]> {
    await this.until(() => this.ofType(type).length >= n, `${n} ${type} frame(s)`, timeoutMs);
    return this.ofType(type);
  }

  /** Waits for the server's close frame, or the end of the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<{ code: number | null; reason: string } | null> {
    await this.until(() => this.closeFrame !== null || this.ended, "the close", timeoutMs);
    return this.closeFrame;
  }
}
