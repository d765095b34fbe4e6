/**
 * Query inputs: validates a predict body's `input` or `input_batch` for the app's input type and encodes
 * each input in the RPC wire format in the same pass (int32, float32, float64 little-endian; raw bytes from
 * base64; UTF-8). Owns the client-facing messages for malformed inputs. Hand-written rather than zod
 * because it runs per query on the hot path and must not build intermediate arrays.
 *
 * Integers are accepted for float and double apps; ints must be 32-bit integers.
 */

import { ClipperError } from "../../errors.ts";
import type { CoreInputType } from "../../core/core.ts";

const encoder = new TextEncoder();
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface EncodedInputs {
  readonly inputs: Uint8Array[];
  /** True for `input_batch`: the answer is `{batch_predictions: [...]}`. */
  readonly batch: boolean;
}

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

function encodeOne(value: unknown, field: string, type: CoreInputType): Uint8Array {
  switch (type) {
    case "ints":
      return new Uint8Array(Int32Array.from(numbers(value, field, type)).buffer);
    case "floats":
      return new Uint8Array(Float32Array.from(numbers(value, field, type)).buffer);
    case "doubles":
      return new Uint8Array(Float64Array.from(numbers(value, field, type)).buffer);
    case "strings":
      if (typeof value !== "string") throw invalid(field, `expected a string, got ${describe(value)}`);
      return encoder.encode(value);
    case "bytes": {
      if (typeof value !== "string" || value.length % 4 !== 0 || !BASE64.test(value)) {
        throw invalid(field, `expected a base64 string, got ${describe(value)}`);
      }
      const text = atob(value);
      const out = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
      return out;
    }
  }
}

/** Reads `input` or `input_batch` from a parsed predict body. */
export function encodeInputs(body: Record<string, unknown>, type: CoreInputType): EncodedInputs {
  if ("input" in body) {
    return { inputs: [encodeOne(body.input, "input", type)], batch: false };
  }
  if ("input_batch" in body) {
    const batch = body.input_batch;
    if (!Array.isArray(batch) || batch.length === 0) {
      throw invalid("input_batch", `expected a non-empty array of inputs, got ${describe(batch)}`);
    }
    return { inputs: batch.map((v, i) => encodeOne(v, `input_batch[${i}]`, type)), batch: true };
  }
  throw new ClipperError("invalid_request", 'Invalid predict request: it needs "input" or "input_batch"');
}
