import { describe, expect, it } from "vitest";
import { render } from "./exposition.ts";

describe("render", () => {
  it("writes the Prometheus text format 0.0.4: HELP, TYPE, escaped labels, special values", () => {
    const text = render([
      {
        name: "websocket_connections",
        help: "Open sockets.\nBy type \\ kind.",
        type: "gauge",
        samples: [
          { labels: { room_type: "public" }, value: 2 },
          { labels: { room_type: 'say "hi"\n' }, value: 0 },
        ],
      },
      { name: "odd_values", help: "x", type: "gauge", samples: [{ value: NaN }, { value: Infinity }, { value: -Infinity }] },
    ]);
    expect(text).toBe(
      [
        "# HELP websocket_connections Open sockets.\\nBy type \\\\ kind.",
        "# TYPE websocket_connections gauge",
        'websocket_connections{room_type="public"} 2',
        'websocket_connections{room_type="say \\"hi\\"\\n"} 0',
        "# HELP odd_values x",
        "# TYPE odd_values gauge",
        "odd_values NaN",
        "odd_values +Inf",
        "odd_values -Inf",
        "",
      ].join("\n"),
    );
  });
});
