// The sum of every isolate's metrics, and the Prometheus text renderer.
//
// Each isolate (the Worker's, and on Cloudflare each room's) reports its own
// cumulative counters and histograms, and the rooms it holds. The aggregate
// keeps the newest report of each source and adds them up at scrape time, so
// a lost or repeated report changes nothing. Sockets and outbox depths come
// from the rooms' own reports (newest per room), so a room that hibernates
// keeps counting without being woken. Pure: no runtime API, no I/O.
import type { RoomType } from "../protocol/index.ts";

export type Labels = Record<string, string | number>;
export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for histograms); the family's when absent. */
  name?: string;
  labels: Labels;
  value: number;
}
export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  samples: Sample[];
}
/** What one room last said about itself; zero sockets and an empty outbox means it is gone. */
export interface RoomStat {
  type: RoomType;
  sockets: number;
  outbox: number;
  /** When the room reported it (ms since the epoch). */
  at: number;
}
export interface SourceReport {
  /** One isolate: a random id drawn once per isolate. */
  source: string;
  /** Cumulative counters and histograms of the isolate since it started. */
  families: Family[];
  /** Rooms that changed since the isolate's last report. */
  rooms: Record<string, RoomStat>;
}

/** Gauges computed from the rooms' reports rather than taken from any one isolate. */
export const ROOM_GAUGES = new Set(["websocket_connections", "rooms_active", "outbox_pending_messages"]);

/** A source silent this long is folded into the retired totals (its counts stay, its slot goes). */
const SOURCE_TTL_MS = 60 * 60_000;
/** A room gone this long is forgotten (it was kept only to order late reports). */
const GONE_TTL_MS = 10 * 60_000;

function sampleKey(family: string, sample: Sample): string {
  const labels = Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${sample.name ?? family}${JSON.stringify(labels)}`;
}

function slot(map: Map<string, Map<string, Sample>>, family: string): Map<string, Sample> {
  let samples = map.get(family);
  if (!samples) map.set(family, (samples = new Map()));
  return samples;
}

/** Adds `samples` into `into` by name and labels, keeping first-seen order. */
function addSamples(into: Map<string, Sample>, family: string, samples: readonly Sample[]): void {
  for (const sample of samples) {
    const key = sampleKey(family, sample);
    const seen = into.get(key);
    if (seen) seen.value += sample.value;
    else into.set(key, { ...sample, labels: { ...sample.labels } });
  }
}

export class Aggregate {
  readonly #sources = new Map<string, { seen: number; families: Family[] }>();
  /** Sums of sources that went silent, by family, so that counters never go down. */
  readonly #retired = new Map<string, Map<string, Sample>>();
  readonly #rooms = new Map<string, RoomStat>();

  report(report: SourceReport, now: number): void {
    this.#sources.set(report.source, {
      seen: now,
      families: report.families.filter((f) => f.type === "counter" || f.type === "histogram"),
    });
    for (const [roomId, stat] of Object.entries(report.rooms)) {
      const known = this.#rooms.get(roomId);
      // A late report from an isolate the room has since left loses.
      if (!known || known.at <= stat.at) this.#rooms.set(roomId, stat);
    }
    this.#prune(now);
  }

  /** Every family: the scraping isolate's own gauges, the rooms' gauges, and the summed counters and histograms. */
  families(local: readonly Family[]): Family[] {
    const summed = new Map<string, Map<string, Sample>>();
    for (const [name, samples] of this.#retired) addSamples(slot(summed, name), name, [...samples.values()]);
    for (const { families } of this.#sources.values()) {
      for (const family of families) addSamples(slot(summed, family.name), family.name, family.samples);
    }
    return local.map((family) => {
      if (ROOM_GAUGES.has(family.name)) return { ...family, samples: this.#roomGauge(family.name) };
      if (family.type === "counter" || family.type === "histogram") {
        return { ...family, samples: [...(summed.get(family.name)?.values() ?? [])] };
      }
      return family;
    });
  }

  #roomGauge(name: string): Sample[] {
    const live = [...this.#rooms.values()];
    if (name === "rooms_active") return [{ labels: {}, value: live.filter((r) => r.sockets > 0).length }];
    if (name === "outbox_pending_messages") return [{ labels: {}, value: live.reduce((n, r) => n + r.outbox, 0) }];
    const byType = new Map<string, number>([
      ["public", 0],
      ["private", 0],
    ]);
    for (const room of live) byType.set(room.type, (byType.get(room.type) ?? 0) + room.sockets);
    return [...byType].map(([type, value]) => ({ labels: { room_type: type }, value }));
  }

  #prune(now: number): void {
    for (const [source, { seen, families }] of this.#sources) {
      if (now - seen < SOURCE_TTL_MS) continue;
      for (const family of families) addSamples(slot(this.#retired, family.name), family.name, family.samples);
      this.#sources.delete(source);
    }
    for (const [roomId, stat] of this.#rooms) {
      if (stat.sockets === 0 && stat.outbox === 0 && now - stat.at > GONE_TTL_MS) this.#rooms.delete(roomId);
    }
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

export type Format = "text" | "openmetrics";

export const CONTENT_TYPES: Record<Format, string> = {
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** OpenMetrics when the scraper's Accept header asks for it (Prometheus does by default), else text 0.0.4. */
export function negotiate(accept: string | null | undefined): Format {
  return accept?.includes("application/openmetrics-text") ? "openmetrics" : "text";
}

/**
 * The Prometheus text format 0.0.4, or OpenMetrics 1.0.0: there a counter's
 * family is named without `_total` (its samples keep it), HELP escapes
 * quotes too, and the exposition ends with `# EOF`.
 */
export function renderText(families: readonly Family[], format: Format = "text"): string {
  const lines: string[] = [];
  for (const family of families) {
    const name = format === "openmetrics" && family.type === "counter" ? family.name.replace(/_total$/, "") : family.name;
    let help = family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
    if (format === "openmetrics") help = help.replace(/"/g, '\\"');
    lines.push(`# HELP ${name} ${help}`);
    lines.push(`# TYPE ${name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels).map(([k, v]) => `${k}="${escapeLabel(typeof v === "number" ? formatValue(v) : v)}"`);
      lines.push(`${sample.name ?? family.name}${labels.length > 0 ? `{${labels.join(",")}}` : ""} ${formatValue(sample.value)}`);
    }
  }
  if (format === "openmetrics") lines.push("# EOF");
  return `${lines.join("\n")}\n`;
}
