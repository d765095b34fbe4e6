/**
 * HTTP plumbing shared by the query and admin APIs: the one place a `ClipperError` becomes a response, the
 * JSON body reader, the body-size limit and the JSON 404. Must not know any route.
 */

import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ClipperError, toClipperError } from "../errors.ts";

/** The error response: the code's status and `{error, cause, code}`. */
export function errorResponse(c: Context, err: unknown): Response {
  const error = toClipperError(err);
  if (error.code === "internal") console.error(err);
  return c.json(error.toBody(), error.status as 400);
}

/** Reads the body as a JSON object, or throws `invalid_json` / `invalid_request`. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
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

/** Installs the body-size limit, the JSON 404 and the error mapping on `app`. */
export function installCommon(app: Hono, max_body_bytes: number): void {
  app.use(
    bodyLimit({
      maxSize: max_body_bytes,
      onError: (c) =>
        errorResponse(
          c,
          new ClipperError("body_too_large", `Cannot accept a request body over ${max_body_bytes} bytes`),
        ),
    }),
  );
  app.notFound((c) =>
    errorResponse(c, new ClipperError("route_not_found", `No route for ${c.req.method} "${c.req.path}"`))
  );
  app.onError((err, c) => errorResponse(c, err));
}
