/**
 * Example container that sums each input, answering exactly as the Python `sum` example does: numbers for
 * numeric arrays (floats summed in 32-bit like numpy, and printed like Python: "6" for ints, "6.0" for a
 * whole float), byte values for bytes, and the number of characters for strings.
 */
import { type Input, serve } from "../mod.ts";

/** Python's `str(float)` for the values these sums produce: a whole number keeps its ".0". */
function pythonFloat(value: number): string {
  return Number.isInteger(value) && Math.abs(value) < 1e16 ? value.toFixed(1) : String(value);
}

export function total(value: Input): string {
  if (typeof value === "string") return String([...value].length);
  if (value instanceof Float32Array) {
    return pythonFloat(value.reduce((acc, v) => Math.fround(acc + v), 0));
  }
  if (value instanceof Float64Array) {
    return pythonFloat(value.reduce((acc, v) => acc + v, 0));
  }
  let sum = 0;
  for (const v of value) sum += v;
  return String(sum);
}

if (import.meta.main) await serve((inputs) => inputs.map(total));
