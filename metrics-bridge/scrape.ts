// One scrape, for the self-hosted metrics socket and GET /metrics alike:
// probe, send this isolate's newest report, then render the Stats object's
// sum with this isolate's own gauges (database_up, the connection limit,
// build info), in the format the scraper asked for.
import type { Config } from "../core/config.ts";
import { CONTENT_TYPES, negotiate } from "./aggregate.ts";
import { probe } from "./probes.ts";
import { localFamilies, sendReport, statsStub } from "./report.ts";

export async function scrape(env: Env, config: Config, accept: string | null | undefined): Promise<{ body: string; contentType: string }> {
  await probe(config);
  const local = await localFamilies();
  await sendReport(env, local);
  const format = negotiate(accept);
  const body = await statsStub(env).exposition(local, format);
  return { body, contentType: CONTENT_TYPES[format] };
}
