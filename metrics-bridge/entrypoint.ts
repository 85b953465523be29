// The metrics socket of the self-hosted build: a named entrypoint of the
// Worker that the generated config.capnp binds to its own listener
// (`metrics`, default 127.0.0.1:9464), with no token, for a local scraper.
import { WorkerEntrypoint } from "cloudflare:workers";
import { CONTENT_TYPE, render } from "./exposition.ts";
import { runtimeFamilies } from "./runtime-stats.ts";

export class MetricsEntrypoint extends WorkerEntrypoint<Env> {
  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/metrics") {
      return new Response("roomcast metrics: GET /metrics\n", { status: 404 });
    }
    return new Response(render(runtimeFamilies()), { headers: { "Content-Type": CONTENT_TYPE } });
  }
}
