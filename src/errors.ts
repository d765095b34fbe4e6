/**
 * Errors: every failure a client can see, declared once with a stable code, a title and an HTTP status.
 *
 * Owns the mapping from error codes to HTTP statuses and the JSON error body `{error, cause, code}` (the
 * original Clipper's `{error, cause}` plus our stable `code`). Must not know about routes or handlers: they
 * throw `ClipperError` and the one `onError` hook of each server turns it into a response.
 *
 * Messages follow one style: sentence case, name the action, quote the value
 * (`Cannot add application "shop": it already exists`).
 */

/** Each code's title (the `error` field) and HTTP status. */
const CATALOGUE = {
  invalid_json: { title: "Json error", status: 400 },
  invalid_request: { title: "Invalid request", status: 400 },
  body_too_large: { title: "Request body too large", status: 413 },
  route_not_found: { title: "Not found", status: 404 },
  unauthorized: { title: "Unauthorized", status: 401 },
  app_not_found: { title: "Application not found", status: 404 },
  app_exists: { title: "Application exists", status: 400 },
  model_not_found: { title: "Model not found", status: 404 },
  model_exists: { title: "Model exists", status: 400 },
  version_not_found: { title: "Query processing error", status: 400 },
  input_type_mismatch: { title: "Input type mismatch", status: 400 },
  link_not_found: { title: "Link not found", status: 400 },
  feedback_unscorable: { title: "Feedback cannot be scored", status: 400 },
  state_unavailable: { title: "State store unavailable", status: 503 },
  core_refused: { title: "Serving core refused the query", status: 503 },
  // Load control's; native/core/src/http/serve.rs answers them too, in the same words.
  overloaded: { title: "Serving core overloaded", status: 503 },
  batch_too_large: { title: "Input batch too large", status: 413 },
  internal: { title: "Internal error", status: 500 },
} as const satisfies Record<string, { title: string; status: number }>;

export type ErrorCode = keyof typeof CATALOGUE;

/** A failure with a stable code; `message` is the `cause` a client reads. */
export class ClipperError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
    this.name = "ClipperError";
  }

  get status(): number {
    return CATALOGUE[this.code].status;
  }

  /** The JSON body sent to clients. */
  toBody(): { error: string; cause: string; code: ErrorCode } {
    return { error: CATALOGUE[this.code].title, cause: this.message, code: this.code };
  }
}

/** Turns anything thrown into a `ClipperError`; unknown failures become `internal`. */
export function toClipperError(err: unknown): ClipperError {
  if (err instanceof ClipperError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ClipperError("internal", `Unexpected failure: ${message}`);
}
