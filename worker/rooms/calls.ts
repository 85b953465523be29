// Counts the Worker's calls to room objects (rpc_calls_total), the
// runtime's inter-service calls in place of the origin's gRPC counters.
import { metrics } from "../../metrics-bridge/registry.ts";

type RoomMethod = "fetch" | "publish" | "history" | "drain";

/** Awaits a call to a room and counts it with the code `codeOf` gives its result, or "error". */
export async function countRoomCall<P extends PromiseLike<unknown>>(
  method: RoomMethod,
  call: P,
  codeOf: (result: Awaited<P>) => string,
): Promise<Awaited<P>> {
  try {
    const result = await call;
    metrics.rpcCalls.inc({ target: "room", method, code: codeOf(result) });
    return result;
  } catch (error) {
    metrics.rpcCalls.inc({ target: "room", method, code: "error" });
    throw error;
  }
}

/** "ok", or the refusal code of a room's RPC answer. */
export function resultCode(result: { ok: true } | { ok: false; code: string }): string {
  return result.ok ? "ok" : result.code;
}
