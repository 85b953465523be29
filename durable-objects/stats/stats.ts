// The Stats object: one per deployment (idFromName("global")). Every isolate
// reports its counters and its rooms here (metrics-bridge/report.ts), and a
// scrape renders the sum. State is memory only: a restart of the process
// (self-hosted) ends every socket too, and the reports rebuild it; see
// docs/operations.md for what that means on Cloudflare.
import { DurableObject } from "cloudflare:workers";
import { Aggregate, renderText, type Family, type Format, type SourceReport } from "../../metrics-bridge/aggregate.ts";

export class Stats extends DurableObject<Env> {
  readonly #aggregate = new Aggregate();

  /** RPC: one isolate's newest report. */
  async report(report: SourceReport): Promise<void> {
    this.#aggregate.report(report, Date.now());
  }

  /** RPC: the exposition, with the scraping isolate's own gauges (`local`) and everyone's sums. */
  async exposition(local: Family[], format: Format): Promise<string> {
    return renderText(this.#aggregate.families(local), format);
  }
}
