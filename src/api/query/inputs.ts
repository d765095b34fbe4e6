/**
 * Query inputs: validates a predict body's `input` or `input_batch` for the app's input type and writes
 * each input into an `InputBatch` in the RPC wire format (int32, float32, float64 little-endian; raw bytes
 * from base64; UTF-8). Owns the client-facing messages for malformed inputs. Hand-written rather than zod
 * because it runs per query on the hot path and must not build intermediate arrays.
 *
 * Integers are accepted for float and double apps; ints must be 32-bit integers.
 */

import { ClipperError } from "../../errors.ts";
import type { CoreInputType } from "../../core/core.ts";
import type { InputBatch } from "../../core/input_batch.ts";

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function invalid(field: string, message: string): ClipperError {
  return new ClipperError("invalid_request", `Invalid "${field}": ${message}`);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string"
    ? `the string "${value.slice(0, 40)}"`
    : `${typeof value} ${String(value)}`;
}

function numbers(value: unknown, field: string, type: CoreInputType): number[] {
  if (!Array.isArray(value)) {
    throw invalid(field, `expected an array of numbers for input type "${type}", got ${describe(value)}`);
  }
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw invalid(`${field}[${i}]`, `expected a finite number, got ${describe(v)}`);
    }
    if (type === "ints" && (!Number.isInteger(v) || v < -2147483648 || v > 2147483647)) {
      throw invalid(`${field}[${i}]`, `expected a 32-bit integer, got ${v}`);
    }
  }
  return value as number[];
}

function encodeOne(value: unknown, field: string, type: CoreInputType, into: InputBatch): void {
  switch (type) {
    case "ints":
      return into.addInt32s(numbers(value, field, type));
    case "floats":
      return into.addFloat32s(numbers(value, field, type));
    case "doubles":
      return into.addFloat64s(numbers(value, field, type));
    case "strings":
      if (typeof value !== "string") throw invalid(field, `expected a string, got ${describe(value)}`);
      return into.addUtf8(value);
    case "bytes":
      if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) {
        throw invalid(field, `expected a base64 string, got ${describe(value)}`);
      }
      return into.addBinaryString(atob(value));
  }
}

/**
 * Reads `input` or `input_batch` from a parsed predict body into `into` (reset first). Returns true for
 * `input_batch`, whose answer is `{batch_predictions: [...]}`.
 */
export function encodeInputs(body: Record<string, unknown>, type: CoreInputType, into: InputBatch): boolean {
  into.reset();
  if ("input" in body) {
    encodeOne(body.input, "input", type, into);
    return false;
  }
  if ("input_batch" in body) {
    const batch = body.input_batch;
    if (!Array.isArray(batch) || batch.length === 0) {
      throw invalid("input_batch", `expected a non-empty array of inputs, got ${describe(batch)}`);
    }
    for (let i = 0; i < batch.length; i++) encodeOne(batch[i], `input_batch[${i}]`, type, into);
    return true;
  }
  throw new ClipperError("invalid_request", 'Invalid predict request: it needs "input" or "input_batch"');
}
