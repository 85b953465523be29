import * as z from "zod";
import { FRAME_ERRORS, type FrameErrorCode } from "./codes.ts";
import { DEFAULT_LIMITS, type FrameLimits } from "./limits.ts";
import {
  ClientMsgIdSchema as clientMsgId,
  MessageSchema,
  PresenceUserSchema,
  RoomSchema,
  SeqSchema as seq,
  storable,
  UserSchema,
} from "./model.ts";

function clientFrameSchema(maxBodyChars: number) {
  return z.discriminatedUnion("type", [
    z.object({ type: z.literal("send"), clientMsgId, body: storable(z.string().min(1).max(maxBodyChars)) }),
    z.object({ type: z.literal("resume"), lastSeq: seq }),
    z.object({ type: z.literal("typing") }),
    z.object({ type: z.literal("ping"), lastSeq: seq.optional() }),
    z.object({ type: z.literal("auth"), token: z.string().min(1).max(4096) }),
  ]);
}

/** A frame a client may send. */
export type ClientFrame = z.infer<ReturnType<typeof clientFrameSchema>>;

/** What a parser returns: the typed value, or a stable error code and a short reason. */
export type Parsed<T, C extends string = FrameErrorCode> = { ok: true; value: T } | { ok: false; code: C; message: string };

const schemaCache = new Map<number, ReturnType<typeof clientFrameSchema>>();

function schemaFor(maxBodyChars: number): ReturnType<typeof clientFrameSchema> {
  let schema = schemaCache.get(maxBodyChars);
  if (!schema) {
    schema = clientFrameSchema(maxBodyChars);
    schemaCache.set(maxBodyChars, schema);
  }
  return schema;
}

/** Parses one text frame from a client. Never throws. */
export function parseClientFrame(raw: string, limits: FrameLimits = DEFAULT_LIMITS): Parsed<ClientFrame> {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: "bad_request", message: "frame is not valid JSON" };
  }
  const result = schemaFor(limits.maxBodyChars).safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  if (issue?.code === "too_big" && issue.path.length === 1 && issue.path[0] === "body") {
    return {
      ok: false,
      code: "body_too_long",
      message: `body is longer than ${limits.maxBodyChars} characters`,
    };
  }
  return { ok: false, code: "bad_request", message: describeIssue(issue) };
}

function describeIssue(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return "invalid frame";
  if (issue.code === "invalid_union" && issue.path.length === 0) {
    return "unknown or missing frame type";
  }
  const where = issue.path.length > 0 ? issue.path.join(".") : "frame";
  return `${where}: ${issue.message}`.slice(0, 200);
}

const serverFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    room: RoomSchema,
    user: UserSchema,
    headSeq: seq,
    presence: z.array(PresenceUserSchema),
  }),
  z.object({ type: z.literal("message"), ...MessageSchema.shape }),
  z.object({ type: z.literal("ack"), clientMsgId: z.string(), seq }),
  z.object({ type: z.literal("presence"), event: z.enum(["join", "leave"]), user: PresenceUserSchema }),
  z.object({ type: z.literal("typing"), user: PresenceUserSchema }),
  z.object({
    type: z.literal("error"),
    // A string first, so that a non-string is described as such; then one of the contract's codes.
    code: z.string().pipe(z.enum(FRAME_ERRORS, { error: (issue) => `unknown error code ${String(issue.input)}` })),
    message: z.string(),
  }),
  z.object({ type: z.literal("resync_required"), fromSeq: seq }),
  z.object({ type: z.literal("pong") }),
  z.object({ type: z.literal("goaway"), retryAfterMs: z.number().int().nonnegative() }),
]);

/** A frame the server sends. */
export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** Parses one frame from the server (used by clients, tests and the load test). */
export function parseServerFrame(raw: string): Parsed<ServerFrame, "bad_frame"> {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, code: "bad_frame", message: "frame is not valid JSON" };
  }
  const result = serverFrameSchema.safeParse(data);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  // An error code outside the contract is named as such, without a path.
  const unknownCode = issue?.code === "invalid_value" && issue.path.length === 1 && issue.path[0] === "code";
  return { ok: false, code: "bad_frame", message: unknownCode ? issue.message : describeIssue(issue) };
}

/** Serialises a server frame; the one place server frames become text. */
export function encodeServerFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}
