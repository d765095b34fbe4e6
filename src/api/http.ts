/**
 * HTTP plumbing shared by the query and admin APIs: the one place a `ClipperError` becomes a response, the
 * JSON body reader with its size limit, and the JSON 404. Must not know any route.
 */

import type { Context, Hono } from "hono";
import { ClipperError, toClipperError } from "../errors.ts";

/** The error response: the code's status and `{error, cause, code}`. */
export function errorResponse(c: Context, err: unknown): Response {
  const error = toClipperError(err);
  if (error.code === "internal") console.error(err);
  return c.json(error.toBody(), error.status as 400);
}

const decoder = new TextDecoder();

/**
 * Reads the body as a JSON object, or throws `body_too_large`, `invalid_json` or `invalid_request`.
 *
 * The size is checked on the bytes read, not on the `content-length` header: in Deno, reading any request
 * header builds the whole `Headers` object, which halved the query path's throughput (29.6k against 55.8k
 * req/s on the cache path, `bench/`). The cost of that choice: a client can make the frontend buffer one
 * oversized body before it is refused.
 */
export async function readJsonObject(c: Context, max_body_bytes: number): Promise<Record<string, unknown>> {
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength > max_body_bytes) {
    throw new ClipperError("body_too_large", `Cannot accept a request body over ${max_body_bytes} bytes`);
  }
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new ClipperError(
      "invalid_json",
      `Cannot parse the request body as JSON: ${(err as Error).message}`,
    );
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ClipperError("invalid_request", "Invalid request body: expected a JSON object");
  }
  return body as Record<string, unknown>;
}

/** Installs the JSON 404 and the error mapping on `app`. */
export function installCommon(app: Hono): void {
  app.notFound((c) =>
    errorResponse(c, new ClipperError("route_not_found", `No route for ${c.req.method} "${c.req.path}"`))
  );
  app.onError((err, c) => errorResponse(c, err));
}
