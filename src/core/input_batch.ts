/**
 * A request's inputs in RPC wire encoding, packed back to back with their offsets: the form
 * `ServingCore.submit` hands to the native core in one call.
 *
 * One batch is reused for every request (fill it, submit it, then `reset`), because allocating typed arrays
 * per query dominated the submit path: about 300 ns per array here, against about 200 ns for the whole FFI
 * call. Owns the buffer growth and the little-endian layout of each input type; must not validate values
 * (the query API does, before it writes).
 */

const INITIAL_BYTES = 64 * 1024;
const INITIAL_INPUTS = 1024;
const encoder = new TextEncoder();

export class InputBatch {
  #bytes = new Uint8Array(INITIAL_BYTES);
  #view = new DataView(this.#bytes.buffer);
  #offsets = new Uint32Array(INITIAL_INPUTS + 1);
  #count = 0;
  #length = 0;

  /** Number of inputs written since the last reset. */
  get count(): number {
    return this.#count;
  }

  /** Bytes written since the last reset. */
  get length(): number {
    return this.#length;
  }

  /** The whole buffer; only its first `length` bytes are meaningful. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** `count + 1` offsets into `bytes` (input i spans `offsets[i]..offsets[i + 1]`), then unused room. */
  get offsets(): Uint32Array {
    return this.#offsets;
  }

  reset(): void {
    this.#count = 0;
    this.#length = 0;
  }

  /** One input of 32-bit integers. */
  addInt32s(values: readonly number[]): void {
    let at = this.#begin(values.length * 4);
    for (const v of values) {
      this.#view.setInt32(at, v, true);
      at += 4;
    }
    this.#end(at);
  }

  /** One input of 32-bit floats. */
  addFloat32s(values: readonly number[]): void {
    let at = this.#begin(values.length * 4);
    for (const v of values) {
      this.#view.setFloat32(at, v, true);
      at += 4;
    }
    this.#end(at);
  }

  /** One input of 64-bit floats. */
  addFloat64s(values: readonly number[]): void {
    let at = this.#begin(values.length * 8);
    for (const v of values) {
      this.#view.setFloat64(at, v, true);
      at += 8;
    }
    this.#end(at);
  }

  /** One input of a string's UTF-8 bytes. */
  addUtf8(value: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const at = this.#begin(value.length * 3);
    const { written } = encoder.encodeInto(value, this.#bytes.subarray(at));
    this.#end(at + written);
  }

  /** One input of raw bytes given as a binary string (each char code one byte, as `atob` returns). */
  addBinaryString(value: string): void {
    let at = this.#begin(value.length);
    for (let i = 0; i < value.length; i++) this.#bytes[at++] = value.charCodeAt(i);
    this.#end(at);
  }

  /** Makes room for an input of up to `most` bytes; returns where it starts. */
  #begin(most: number): number {
    if (this.#length + most > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + most));
      grown.set(this.#bytes.subarray(0, this.#length));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    if (this.#count + 2 > this.#offsets.length) {
      const grown = new Uint32Array(this.#offsets.length * 2);
      grown.set(this.#offsets);
      this.#offsets = grown;
    }
    this.#offsets[this.#count] = this.#length;
    return this.#length;
  }

  #end(at: number): void {
    this.#length = at;
    this.#count += 1;
    this.#offsets[this.#count] = at;
  }
}
