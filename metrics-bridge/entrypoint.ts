// The metrics socket of the self-hosted build: a named entrypoint of the
// Worker that the generated config.capnp binds to its own listener
// (`metrics`, default 127.0.0.1:9464), with no token, for a local scraper.
import { WorkerEntrypoint } from "cloudflare:workers";
import { readConfig } from "../core/config.ts";
import { scrape } from "./scrape.ts";

export class MetricsEntrypoint extends WorkerEntrypoint<Env> {
  override async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/metrics") {
      return new Response("roomcast metrics: GET /metrics\n", { status: 404 });
    }
    const { body, contentType } = await scrape(this.env, readConfig(this.env), request.headers.get("Accept"));
    return new Response(body, { headers: { "Content-Type": contentType } });
  }
}
