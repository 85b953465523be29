// The isolate's side of the aggregation: what this isolate counted, and the
// rooms it holds, sent to the Stats object (durable-objects/stats) in one
// debounced report at most every FLUSH_DELAY_MS while there is activity, and
// at once before a scrape. A report is cumulative, so one that is lost is
// made good by the next; nothing wakes a hibernated room to report.
import type { Stats } from "../durable-objects/stats/stats.ts";
import type { RoomType } from "../protocol/index.ts";
import type { Family, RoomStat, Sample, SourceReport } from "./aggregate.ts";
import { registry } from "./registry.ts";

const FLUSH_DELAY_MS = 1000;

/** The Stats object: one per deployment. */
export function statsStub(env: Env): DurableObjectStub<Stats> {
  return env.STATS.get(env.STATS.idFromName("global"));
}

/** Drawn on first use: random values cannot be made at an isolate's start. */
let source: string | undefined;
/** Rooms changed since the last report sent. */
let dirty = new Map<string, RoomStat>();
let scheduled = false;

/** A room's sockets or outbox depth changed: sent with the next report. */
export function reportRoom(roomId: string, stat: { type: RoomType; sockets: number; outbox: number }): void {
  dirty.set(roomId, { ...stat, at: Date.now() });
}

/** prom-client's JSON as families (every metric of this isolate's registry). */
export async function localFamilies(): Promise<Family[]> {
  const metrics = await registry.getMetricsAsJSON();
  return metrics.map((m) => ({
    name: m.name,
    help: m.help,
    type: String(m.type) as Family["type"],
    // Histogram values carry their own name (`_bucket`, `_sum`, `_count`); the declared type omits it.
    samples: m.values.map((v: { value: number; labels: object; metricName?: string }): Sample => ({
      ...(v.metricName ? { name: v.metricName } : {}),
      labels: { ...v.labels } as Sample["labels"],
      value: v.value,
    })),
  }));
}

/**
 * Sends this isolate's report now (`local`: its families, when the caller
 * has read them already). Rooms whose change could not be sent are sent with
 * the next one.
 */
export async function sendReport(env: Env, local?: Family[]): Promise<void> {
  source ??= crypto.randomUUID();
  const families = (local ?? (await localFamilies())).filter((f) => f.type === "counter" || f.type === "histogram");
  const changed = dirty;
  dirty = new Map();
  const report: SourceReport = { source, families, rooms: Object.fromEntries(changed) };
  try {
    await statsStub(env).report(report);
  } catch (error) {
    for (const [roomId, stat] of changed) if (!dirty.has(roomId)) dirty.set(roomId, stat);
    throw error;
  }
}

/** Sends a report within FLUSH_DELAY_MS unless one is already on its way. */
export function scheduleReport(env: Env, waitUntil: (promise: Promise<unknown>) => void): void {
  if (scheduled) return;
  scheduled = true;
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, FLUSH_DELAY_MS))
      .then(() => {
        scheduled = false;
        return sendReport(env);
      })
      .catch((error: unknown) => {
        scheduled = false;
        console.error(`metrics report failed: ${error instanceof Error ? error.message : String(error)}`);
      }),
  );
}
