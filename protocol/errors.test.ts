import { describe, expect, it } from "vitest";
import { ErrorBody, HTTP_ERRORS, type HttpErrorCode } from "./codes.ts";
import { errorBody, errorResponse } from "./errors.ts";

describe("errorBody", () => {
  it("is the contract's body", () => {
    expect(errorBody("room_not_found", "no such room")).toEqual({ error: { code: "room_not_found", message: "no such room" } });
  });
});

describe("errorResponse", () => {
  it.each(Object.entries(HTTP_ERRORS) as [HttpErrorCode, number][])("answers %s with %i and its body", async (code, status) => {
    const response = errorResponse(code, "why");
    expect(response.status).toBe(status);
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(ErrorBody.parse(await response.json())).toEqual({ error: { code, message: "why" } });
  });

  it("adds WWW-Authenticate to 401 and Retry-After: 5 to 429 and 503, and nothing to the rest", () => {
    expect(errorResponse("token_expired", "x").headers.get("WWW-Authenticate")).toBe('Bearer realm="roomcast"');
    expect(errorResponse("rate_limited", "x").headers.get("Retry-After")).toBe("5");
    expect(errorResponse("database_unavailable", "x").headers.get("Retry-After")).toBe("5");
    const notFound = errorResponse("not_found", "x");
    expect(notFound.headers.get("WWW-Authenticate")).toBeNull();
    expect(notFound.headers.get("Retry-After")).toBeNull();
  });

  it("keeps the headers it is given, a Retry-After of the caller's included (a room's refusal)", () => {
    const refusal = errorResponse("overloaded", "room held elsewhere", { "Retry-After": "12", "X-Extra": "1" });
    expect(refusal.status).toBe(503);
    expect(refusal.headers.get("Retry-After")).toBe("12");
    expect(refusal.headers.get("X-Extra")).toBe("1");
  });
});
