import { describe, expect, it } from "vitest";
import { fromBase64, toBase64, toBase64Url } from "./base64.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("base64", () => {
  it.each([
    ["", ""],
    ["f", "Zg=="],
    ["fo", "Zm8="],
    ["foo", "Zm9v"],
    ["foobar", "Zm9vYmFy"],
  ])("encodes %j as RFC 4648's %j and back", (text, encoded) => {
    expect(toBase64(bytes(text))).toBe(encoded);
    expect(fromBase64(encoded)).toEqual(bytes(text));
  });

  it("round-trips every byte value", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromBase64(toBase64(all))).toEqual(all);
  });

  it("refuses characters outside the alphabet", () => {
    expect(() => fromBase64("Zm9v*")).toThrow();
  });

  it("makes base64url without padding", () => {
    expect(toBase64(Uint8Array.of(0xfb, 0xff))).toBe("+/8=");
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe("-_8");
    expect(toBase64Url(bytes("foobar"))).toBe("Zm9vYmFy");
    expect(toBase64Url(new Uint8Array(32))).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
