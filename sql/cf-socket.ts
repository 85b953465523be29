// A TCP socket for postgres.js on workerd, given through its `socket` option.
import { connect } from "cloudflare:sockets";
import { EventEmitter } from "node:events";

/**
 * The same shape as postgres.js's own workerd polyfill (cf/polyfills.js
 * Socket: `raw`, `reader`, `writer`, `read`, so that its `tls.connect` can
 * upgrade it), with one difference: every promise of the stream is observed.
 * The polyfill leaves the reader's and writer's promises unhandled, so each
 * connection that closes (idle timeout, `end()`, or the runtime tearing it
 * down when a Durable Object is evicted) raises an unhandled rejection
 * "This socket has been closed.", which fails vitest; see docs/decisions.md.
 */
export function cloudflareSocket(options: { host: string[]; port: number[]; ssl?: unknown }): EventEmitter {
  const hostname = options.host[0] ?? "127.0.0.1";
  const port = options.port[0] ?? 5432;
  const tcp = Object.assign(new EventEmitter(), {
    readyState: "opening" as string,
    destroyed: false,
    host: hostname,
    raw: connect({ hostname, port }, { secureTransport: options.ssl ? "starttls" : "off", allowHalfOpen: false }),
    writer: undefined as unknown as WritableStreamDefaultWriter<Uint8Array>,
    reader: undefined as unknown as ReadableStreamDefaultReader<Uint8Array>,
    write(data: Uint8Array, callback?: () => void): boolean {
      tcp.writer.write(data).then(() => callback?.(), fail);
      return true;
    },
    end(data?: Uint8Array): void {
      if (data) tcp.writer.write(data).then(closeRaw, closeRaw);
      else closeRaw();
    },
    destroy(): void {
      tcp.destroyed = true;
      closeRaw();
    },
    async read(): Promise<void> {
      try {
        for (;;) {
          const { done, value } = await tcp.reader.read();
          if (done) break;
          tcp.emit("data", Buffer.from(value));
        }
      } catch (error) {
        // A socket that was closed (by us, the peer or the runtime) is a
        // close, not an error: postgres.js fails any query in flight with
        // CONNECTION_CLOSED and reconnects on the next one.
        if (error instanceof Error && error.message === "This socket has been closed.") closed();
        else fail(error);
      }
    },
  });
  const observe = () => {
    tcp.writer = tcp.raw.writable.getWriter();
    tcp.reader = tcp.raw.readable.getReader();
    tcp.writer.closed.catch(() => {});
    tcp.reader.closed.catch(() => {});
    tcp.writer.ready.then(
      () => {
        if (tcp.readyState === "opening") tcp.readyState = "open";
      },
      () => {},
    );
  };
  const closed = () => {
    if (tcp.readyState === "closed") return;
    tcp.readyState = "closed";
    tcp.emit("close");
  };
  function fail(error: unknown): void {
    tcp.emit("error", error);
    closed();
  }
  function closeRaw(): void {
    tcp.raw.close().catch(() => {});
  }
  observe();
  tcp.raw.closed.then(closed, fail);
  void tcp.read();
  return tcp;
}
