// Prometheus text exposition (format 0.0.4) of what this process knows
// now. The self-hosted build serves it on its own socket (`metrics`, default
// 127.0.0.1:9464). This is the first part of the metrics bridge: gauges read
// from the process's own state; the counters and histograms of the metrics
// issue join them here.

/** One sample: label values by name, and the value. */
export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

/** One metric family. */
export interface Family {
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: readonly Sample[];
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** Renders families in the Prometheus text format, one `# HELP` and `# TYPE` each. */
export function render(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      const labelText = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      lines.push(`${family.name}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
