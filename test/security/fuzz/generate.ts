// The fuzzer's frames: valid frames of every client type (with valid and
// invalid values), mutations of valid frames, random strings and bytes, and
// frames the guards must close on (binary, oversized). One generator per
// lane, seeded from the run's seed and the lane's number, so that a lane's
// frames follow from FUZZ_SEED whatever the other lanes and the server do;
// only the values bound at send time (seqs near the room's head, the tokens
// of this run's users) differ between two runs of one seed.
import type { Rng } from "./prng.ts";

/** The limits the generator aims at (the server's defaults). */
export interface GenLimits {
  maxBodyChars: number;
  maxClientMsgIdChars: number;
  maxFrameBytes: number;
  maxTokenChars: number;
}

/** Tokens a lane may put in `auth` frames. */
export interface LaneTokens {
  /** Valid tokens of the lane's own user: accepted silently. */
  self: readonly string[];
  /** Valid tokens of other users: refused (`unauthorized`). */
  others: readonly string[];
  /** Expired, foreign-key, `alg: none`, garbage: refused. */
  refused: readonly string[];
}

/** What a lane knows when its next frame is drawn. */
export interface LaneView {
  /** The highest seq this lane has seen in its room. */
  lastSeq: number;
}

/** One generated frame. */
export interface FuzzFrame {
  /** Index within the lane. */
  n: number;
  /** `family/what`, for the counts and for reproduction. */
  kind: string;
  /** A string is sent as UTF-8 text; a Buffer as the exact bytes of a text (or binary) frame. */
  data: string | Buffer;
  binary: boolean;
  /**
   * A burst: the lane sends this frame over and over, unpaced, past the user's message budget: `refuse`
   * by 5 frames (error `rate_limited`), `close` by 15 (ten refusals in a row close the socket 4429).
   */
  burst?: "refuse" | "close";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Strings that have broken parsers, databases and renderers before. */
const EDGE_STRINGS: readonly string[] = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udc00",
  "x\udbffy",
  "\udfff\ud800",
  "\udbff\udfff",
  "\ufeff",
  "\ufffe",
  "\uffff",
  "\ufffd",
  "\u202eevil\u202c",
  "\u200b\u200c\u200d\u2060",
  "e\u0301\u0301\u0301",
  "Z\u0324\u0354\u0367\u0311\u0313a\u0356\u032d\u0308\u0307l\u036e\u0312\u036bg\u030c\u0317\u035ao\u0319\u0314\u036e",
  "\u{1F468}\u200d\u{1F469}\u200d\u{1F467}\u200d\u{1F466}",
  "\u{1F3F3}\ufe0f\u200d\u{1F308}",
  "\u{1F600}",
  "\u{10FFFF}",
  "\u{1D573}\u{1D58A}",
  "中文字符",
  "العربية",
  "\r\n",
  "\t",
  "\u2028\u2029",
  "\u0085",
  "\u001b[31mred\u001b[0m",
  "\u007f",
  "'; DROP TABLE messages; --",
  "' OR '1'='1",
  "<script>alert(1)</script>",
  "<img src=x onerror=alert(1)>",
  "${7*7}{{7*7}}",
  "%s%n%x",
  "\\",
  '"',
  "\\u0000",
  "null",
  "undefined",
  "__proto__",
  "constructor",
  "NaN",
  " ",
];

/** Numbers a seq or a length must survive. */
const ODD_NUMBERS: readonly number[] = [
  -1,
  -0,
  0.5,
  1.5,
  -2147483648,
  2147483648,
  4294967296,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  1e21,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  1e-300,
];

/** Number literals written into the JSON text as they are (some are not JSON). */
const RAW_LITERALS: readonly string[] = [
  "NaN",
  "Infinity",
  "-Infinity",
  "1e999",
  "-1e999",
  "9007199254740993",
  "9007199254740991",
  "123456789012345678901234567890",
  "-0",
  "0x10",
  "01",
  "1.",
  ".5",
  "+1",
  "1E2",
  "1e-999",
  "-",
  "undefined",
  "true",
  "[]",
  "{}",
];

/** Bytes that are not UTF-8, or not the shortest form of it. */
const BAD_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0xbf],
  [0xc3, 0x28],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf0, 0x9f, 0x98],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xe2, 0x82],
];

const FRAME_TYPES = ["send", "resume", "typing", "ping", "auth"] as const;
const WRONG_TYPES: readonly Json[] = [
  "SEND",
  "Send",
  "send ",
  " send",
  "send\u0000",
  "message",
  "ack",
  "welcome",
  "error",
  "pong",
  "presence",
  "goaway",
  "",
  "__proto__",
  "constructor",
  null,
  1,
  true,
  ["send"],
  { type: "send" },
];
const FORGED_FIELDS: readonly [string, Json][] = [
  ["userId", "00000000-0000-0000-0000-000000000000"],
  ["username", "admin"],
  ["user", { id: "00000000-0000-0000-0000-000000000000", username: "admin" }],
  ["roomId", "another-room"],
  ["room", { id: "another-room" }],
  ["seq", 1],
  ["id", "00000000-0000-0000-0000-000000000000"],
  ["createdAt", "1970-01-01T00:00:00.000Z"],
  ["exp", 9999999999],
];

/** The frame a lane sends last: a ping that goes through the room (not the runtime's auto-response), so its pong follows every earlier frame's checks. */
export const SENTINEL_PING = '{"type":"ping" }';

/** The exact text workerd answers itself (setWebSocketAutoResponse), without the room. */
export const AUTO_PING = '{"type":"ping"}';

const RAW_MARK = "\u0001raw:";

/** A frame generator for one lane. */
export class FrameGenerator {
  readonly #rng: Rng;
  readonly #limits: GenLimits;
  readonly #tokens: LaneTokens;
  readonly #prefix: string;
  readonly #sentIds: string[] = [];
  #n = 0;

  constructor(options: { rng: Rng; limits: GenLimits; tokens: LaneTokens; idPrefix: string }) {
    this.#rng = options.rng;
    this.#limits = options.limits;
    this.#tokens = options.tokens;
    this.#prefix = options.idPrefix;
  }

  /** The next frame of this lane. */
  next(view: LaneView): FuzzFrame {
    const rng = this.#rng;
    const n = this.#n++;
    const family = rng.weighted({ valid: 38, mutated: 34, random: 14, protocol: 4, burst: 0.06 });
    let frame: Omit<FuzzFrame, "n">;
    switch (family) {
      case "valid": {
        const { what, value } = this.#valid(view);
        frame = { kind: `valid/${what}`, data: typeof value === "string" ? value : JSON.stringify(value), binary: false };
        break;
      }
      case "mutated":
        frame = this.#mutated(view);
        break;
      case "random":
        frame = this.#random();
        break;
      case "protocol":
        frame = this.#protocol(view);
        break;
      case "burst": {
        const burst = rng.pick(["refuse", "close"] as const);
        const { what, value } = this.#valid(view);
        frame = { kind: `burst/${what}`, data: typeof value === "string" ? value : JSON.stringify(value), binary: false, burst };
        break;
      }
    }
    return { n, ...frame };
  }

  // ---- valid frames -------------------------------------------------------

  #valid(view: LaneView): { what: string; value: JsonObject | string } {
    const rng = this.#rng;
    const type = rng.weighted({ send: 40, resume: 8, typing: 12, ping: 25, auth: 15 });
    switch (type) {
      case "send":
        return { what: "send", value: { type: "send", clientMsgId: this.#clientMsgId(), body: this.#body() } };
      case "resume": {
        const how = rng.weighted({ near: 70, head: 12, beyond: 14, zero: 4 });
        const back = rng.int(20);
        const ahead = 1 + rng.int(1000);
        const lastSeq =
          how === "near" ? Math.max(0, view.lastSeq - back) : how === "head" ? view.lastSeq : how === "beyond" ? view.lastSeq + ahead : 0;
        return { what: `resume-${how}`, value: { type: "resume", lastSeq } };
      }
      case "typing":
        return { what: "typing", value: { type: "typing" } };
      case "ping": {
        const how = rng.weighted({ auto: 35, spaced: 25, receipt: 38, old: 2 });
        const back = rng.int(10);
        if (how === "auto") return { what: "ping-auto", value: AUTO_PING };
        if (how === "spaced")
          return { what: "ping", value: rng.pick(['{ "type": "ping" }', '{"type":"ping"}\n', ' {"type":"ping"}', '{"type" : "ping"}']) };
        return { what: `ping-${how}`, value: { type: "ping", lastSeq: how === "old" ? 0 : Math.max(0, view.lastSeq - back) } };
      }
      case "auth": {
        const which = rng.weighted({ self: 45, other: 20, refused: 35 });
        const list = which === "self" ? this.#tokens.self : which === "other" ? this.#tokens.others : this.#tokens.refused;
        const index = rng.int(list.length);
        return { what: `auth-${which}`, value: { type: "auth", token: list[index] ?? "" } };
      }
    }
  }

  #clientMsgId(): string {
    const rng = this.#rng;
    const how = rng.weighted({ fresh: 70, reuse: 12, unicode: 8, longest: 5, single: 5 });
    const reused = this.#sentIds.length > 0 ? this.#sentIds[rng.int(this.#sentIds.length)] : undefined;
    const edge = rng.pick(EDGE_STRINGS);
    let id: string;
    switch (how) {
      case "fresh":
        id = `${this.#prefix}-${this.#n}`;
        break;
      case "reuse":
        id = reused ?? `${this.#prefix}-${this.#n}`;
        break;
      case "unicode":
        id = `${this.#prefix}-${this.#n}-${edge}`.slice(0, this.#limits.maxClientMsgIdChars);
        break;
      case "longest":
        id = `${this.#prefix}-${this.#n}-`.padEnd(this.#limits.maxClientMsgIdChars, "x");
        break;
      case "single":
        // One character shared by the user's lanes: a duplicate across tabs.
        id = String.fromCharCode(0x41 + rng.int(26));
        break;
    }
    this.#sentIds.push(id);
    if (this.#sentIds.length > 64) this.#sentIds.shift();
    return id;
  }

  #body(): string {
    const rng = this.#rng;
    const how = rng.weighted({ text: 40, edge: 20, longest: 7, near: 8, injection: 8, whitespace: 4, mixed: 13 });
    const words = rng.range(1, 30);
    const edge = rng.pick(EDGE_STRINGS);
    const alphabet = rng.pick(ALPHABETS);
    const back = rng.int(8);
    switch (how) {
      case "text":
        return this.#words(words);
      case "edge":
        return `${this.#words(2)} ${edge} ${this.#words(2)}`;
      case "longest":
        return fill(alphabet, this.#limits.maxBodyChars, rng);
      case "near":
        return fill(alphabet, this.#limits.maxBodyChars - back, rng);
      case "injection":
        return rng.pick(EDGE_STRINGS.slice(-16));
      case "whitespace":
        return rng.pick([" ", "\n", "\t\t", "\u00a0", "\u3000"]);
      case "mixed":
        return randomUnicode(rng, rng.range(1, 200));
    }
  }

  #words(count: number): string {
    const rng = this.#rng;
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(rng.pick(WORDS));
    return out.join(" ");
  }

  // ---- mutations -----------------------------------------------------------

  #mutated(view: LaneView): Omit<FuzzFrame, "n"> {
    const rng = this.#rng;
    const base = this.#valid(view);
    let value: Json = typeof base.value === "string" ? (JSON.parse(base.value) as Json) : base.value;
    const ops: string[] = [];
    const count = rng.weighted({ one: 60, two: 28, three: 12 });
    const times = count === "one" ? 1 : count === "two" ? 2 : 3;
    const raws: string[] = [];
    for (let i = 0; i < times; i++) {
      const op = rng.weighted({
        "delete-field": 10,
        "type-swap": 12,
        "odd-number": 8,
        "raw-literal": 6,
        unicode: 10,
        "long-string": 8,
        nested: 4,
        forged: 6,
        extra: 4,
        "wrong-type": 6,
        wrap: 3,
      });
      ops.push(op);
      value = this.#mutateValue(value, op, raws);
    }
    let text = serialize(value, raws);
    const textOp = rng.weighted({ none: 55, proto: 8, "duplicate-key": 8, trailing: 8, leading: 5, truncate: 6, splice: 5, bytes: 5 });
    if (textOp !== "none") ops.push(textOp);
    const data = this.#mutateText(text, textOp);
    if (typeof data === "string") text = data;
    return { kind: `mutated/${base.what}:${ops.join("+")}`, data, binary: false };
  }

  #mutateValue(value: Json, op: string, raws: string[]): Json {
    const rng = this.#rng;
    const object: JsonObject = isObject(value) ? { ...value } : { value };
    const keys = Object.keys(object);
    const key = keys.length > 0 && rng.chance(0.85) ? rng.pick(keys) : rng.pick(["type", "clientMsgId", "body", "lastSeq", "token", "x"]);
    const other = randomJson(rng, 2);
    const odd = rng.pick(ODD_NUMBERS);
    const literal = rng.pick(RAW_LITERALS);
    const edge = rng.pick(EDGE_STRINGS);
    const forged = rng.pick(FORGED_FIELDS);
    const depth = rng.pick([8, 64, 512, 2000]);
    const wrong = rng.pick(WRONG_TYPES);
    const long = this.#longString(key);
    switch (op) {
      case "delete-field":
        delete object[key];
        return object;
      case "type-swap":
        object[key] = typeof object[key] === typeof other ? String(other) : other;
        return object;
      case "odd-number":
        object[key] = odd;
        return object;
      case "raw-literal":
        raws.push(literal);
        object[key] = `${RAW_MARK}${raws.length - 1}`;
        return object;
      case "unicode":
        object[key] = typeof object[key] === "string" ? `${object[key]}${edge}` : edge;
        return object;
      case "long-string":
        object[key] = long;
        return object;
      case "nested":
        object[key] = nest(depth, rng.chance(0.5));
        return object;
      case "forged":
        object[forged[0]] = forged[1];
        return object;
      case "extra":
        object[`x${rng.int(1000)}`] = other;
        return object;
      case "wrong-type":
        object.type = wrong;
        return object;
      case "wrap":
        return rng.pick([[object], { frame: object }, JSON.stringify(object)]);
      default:
        return object;
    }
  }

  /** A string of a length around the limit of the field it replaces. */
  #longString(key: string): string {
    const rng = this.#rng;
    const limit =
      key === "clientMsgId"
        ? this.#limits.maxClientMsgIdChars
        : key === "token"
          ? this.#limits.maxTokenChars
          : key === "body"
            ? this.#limits.maxBodyChars
            : rng.pick([this.#limits.maxBodyChars, 1000]);
    const delta = rng.pick([-1, 0, 1, 2, limit]);
    return fill(rng.pick(ALPHABETS), Math.max(0, limit + delta), rng);
  }

  #mutateText(text: string, op: string): string | Buffer {
    const rng = this.#rng;
    const at = rng.int(text.length + 1);
    const length = rng.range(1, 16);
    const insert = randomUnicode(rng, rng.range(1, 4));
    const protoKey = rng.pick(["__proto__", "constructor", "prototype", "__defineGetter__", "hasOwnProperty", "toString"]);
    const protoValue = rng.pick(['{"type":"send","clientMsgId":"proto","body":"proto"}', '{"polluted":true}', "null", '"x"', "[]"]);
    const dupType = rng.pick(FRAME_TYPES);
    const dupWhere = rng.chance(0.5);
    const trailing = rng.pick([" ", "\n", "x", "}", "{}", "]", ",", "\u0000", "//", "/*", '{"type":"ping"}', "\ufeff", "  \t\r\n"]);
    const leading = rng.pick(["\ufeff", " ", "\n\t", "\u0000", "x", "[", ")]}'\n", "\u00a0"]);
    const bad = rng.pick(BAD_UTF8);
    switch (op) {
      case "proto": {
        const open = text.indexOf("{");
        if (open < 0) return `{"${protoKey}":${protoValue}}`;
        return `${text.slice(0, open + 1)}"${protoKey}":${protoValue},${text.slice(open + 1)}`.replace(",}", "}");
      }
      case "duplicate-key": {
        const open = text.indexOf("{");
        const close = text.lastIndexOf("}");
        if (open < 0 || close < 0) return text;
        return dupWhere
          ? `${text.slice(0, open + 1)}"type":"${dupType}",${text.slice(open + 1)}`.replace(",}", "}")
          : `${text.slice(0, close)},"type":"${dupType}"${text.slice(close)}`.replace("{,", "{");
      }
      case "trailing":
        return text + trailing;
      case "leading":
        return leading + text;
      case "truncate":
        return text.slice(0, at);
      case "splice":
        return text.slice(0, at) + insert + text.slice(Math.min(text.length, at + (length % 3)));
      case "bytes": {
        const bytes = Buffer.from(text, "utf8");
        const where = Math.min(bytes.length, Math.floor((at / (text.length + 1)) * bytes.length));
        return Buffer.concat([bytes.subarray(0, where), Buffer.from(bad), bytes.subarray(where)]);
      }
      default:
        return text;
    }
  }

  // ---- random and protocol frames --------------------------------------------

  #random(): Omit<FuzzFrame, "n"> {
    const rng = this.#rng;
    const how = rng.weighted({ bytes: 30, ascii: 14, unicode: 14, json: 20, object: 16, empty: 3, whitespace: 3 });
    const size = rng.weighted({ small: 60, medium: 30, large: 9, huge: 1 });
    const length =
      size === "small"
        ? rng.int(33)
        : size === "medium"
          ? rng.range(33, 512)
          : size === "large"
            ? rng.range(513, 4000)
            : rng.range(15000, 16500);
    switch (how) {
      case "bytes":
        return { kind: `random/bytes-${size}`, data: rng.bytes(length), binary: false };
      case "ascii":
        return { kind: `random/ascii-${size}`, data: randomAscii(rng, length), binary: false };
      case "unicode":
        return { kind: `random/unicode-${size}`, data: randomUnicode(rng, length), binary: false };
      case "json":
        return { kind: "random/json", data: JSON.stringify(randomJson(rng, 4)), binary: false };
      case "object": {
        const object: JsonObject = { type: rng.chance(0.8) ? rng.pick(FRAME_TYPES) : randomJson(rng, 1) };
        const fields = rng.int(4);
        for (let i = 0; i < fields; i++) object[rng.pick(["clientMsgId", "body", "lastSeq", "token", "x"])] = randomJson(rng, 2);
        return { kind: "random/object", data: JSON.stringify(object), binary: false };
      }
      case "empty":
        return { kind: "random/empty", data: "", binary: false };
      case "whitespace":
        return { kind: "random/whitespace", data: " \t\r\n".repeat(1 + rng.int(8)), binary: false };
    }
  }

  #protocol(view: LaneView): Omit<FuzzFrame, "n"> {
    const rng = this.#rng;
    const how = rng.weighted({ binary: 25, "too-big": 25, "at-limit": 20, expanding: 15, "valid-binary": 10, huge: 5 });
    const max = this.#limits.maxFrameBytes;
    const over = rng.range(1, 2000);
    const bytes = rng.bytes(rng.range(0, 64));
    const { value } = this.#valid(view);
    switch (how) {
      case "binary":
        return { kind: "protocol/binary", data: bytes, binary: true };
      case "valid-binary":
        return {
          kind: "protocol/valid-binary",
          data: Buffer.from(typeof value === "string" ? value : JSON.stringify(value)),
          binary: true,
        };
      case "too-big":
        return { kind: "protocol/too-big", data: padTo('{"type":"ping","pad":"', '"}', max + over), binary: false };
      case "at-limit":
        return { kind: "protocol/at-limit", data: padTo('{"type":"ping","pad":"', '"}', max), binary: false };
      case "expanding": {
        // Fewer bytes than the limit on the wire; more once each byte is decoded to U+FFFD (3 bytes).
        const head = Buffer.from('{"type":"ping","pad":"');
        const count = Math.floor(max / 3) + 1 + (over % 1000);
        return { kind: "protocol/expanding", data: Buffer.concat([head, Buffer.alloc(count, 0x80), Buffer.from('"}')]), binary: false };
      }
      case "huge":
        return {
          kind: "protocol/huge",
          data: padTo('{"type":"send","clientMsgId":"huge","body":"', '"}', 1_048_576 + over),
          binary: false,
        };
      default:
        return { kind: "protocol/binary", data: bytes, binary: true };
    }
  }
}

const WORDS = ["hello", "world", "fuzz", "room", "cast", "ok", "🙂", "naïve", "déjà", "ß", "Ωμέγα", "привет", "שלום", "日本", "😀😀", "a"];
const ALPHABETS: readonly string[][] = [
  ["a", "b", "c", " "],
  ["é", "ß", "ñ"],
  ["中", "文", "字"],
  ["\u{1F600}", "\u{1F680}"],
  ["e\u0301"],
  ["\u0001", "\u001f", '"', "\\"],
];

function isObject(value: Json): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `length` UTF-16 code units from an alphabet (an astral character counts 2; the last may be cut to fit). */
function fill(alphabet: readonly string[], length: number, rng: Rng): string {
  const unit = rng.pick(alphabet);
  let out = unit.repeat(Math.ceil(length / Math.max(1, unit.length)));
  if (out.length > length) out = out.slice(0, length);
  return out;
}

function padTo(head: string, tail: string, bytes: number): string {
  const pad = Math.max(0, bytes - Buffer.byteLength(head) - Buffer.byteLength(tail));
  return head + "x".repeat(pad) + tail;
}

function nest(depth: number, arrays: boolean): Json {
  let value: Json = 1;
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
}

function randomAscii(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += String.fromCharCode(0x20 + rng.int(95));
  return out;
}

/** Random code units: mostly printable, with controls, surrogates (lone or paired), astral and noncharacters. */
function randomUnicode(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    const band = rng.int(10);
    const x = rng.next();
    if (band < 4) out += String.fromCharCode(0x20 + Math.floor(x * 95));
    else if (band < 6) out += String.fromCharCode(0xa0 + Math.floor(x * 0x2f00));
    else if (band < 7) out += String.fromCharCode(Math.floor(x * 0x20));
    else if (band < 8) out += String.fromCharCode(0xd800 + Math.floor(x * 0x800));
    else if (band < 9) out += String.fromCodePoint(0x10000 + Math.floor(x * 0xfffff));
    else out += String.fromCharCode(0xfff0 + Math.floor(x * 16));
  }
  return out;
}

function randomJson(rng: Rng, depth: number): Json {
  const kind = rng.int(depth > 0 ? 8 : 6);
  const x = rng.next();
  switch (kind) {
    case 0:
      return null;
    case 1:
      return x < 0.5;
    case 2:
      return Math.floor((x - 0.5) * 2 ** 40);
    case 3:
      return x * 1e6;
    case 4:
      return randomUnicode(rng, Math.floor(x * 12));
    case 5:
      return rng.pick(EDGE_STRINGS);
    case 6: {
      const out: Json[] = [];
      for (let i = Math.floor(x * 4); i > 0; i--) out.push(randomJson(rng, depth - 1));
      return out;
    }
    default: {
      const out: JsonObject = {};
      for (let i = Math.floor(x * 4); i > 0; i--)
        out[rng.pick(["type", "a", "body", "__proto__", "lastSeq", "k"])] = randomJson(rng, depth - 1);
      return out;
    }
  }
}

function serialize(value: Json, raws: string[]): string {
  let text = JSON.stringify(value);
  raws.forEach((raw, i) => {
    text = text.replace(JSON.stringify(`${RAW_MARK}${i}`), raw);
  });
  return text;
}

/** The text the room gets for a frame: invalid UTF-8 decoded to U+FFFD (what workerd does), lone surrogates of a JS string as the sender's UTF-8 encoder writes them. */
export function roomText(frame: Pick<FuzzFrame, "data">): string {
  return typeof frame.data === "string" ? toWellFormed(frame.data) : new TextDecoder("utf-8").decode(frame.data);
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** String.prototype.toWellFormed (ES2024): each lone surrogate becomes U+FFFD. */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, "\ufffd");
}
