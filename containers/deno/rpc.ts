/**
 * Clipper RPC v3 messages as ZeroMQ frames: pure encoding and decoding, no sockets. The byte layouts (all
 * integers little-endian, one field per frame) are the original Clipper's, plus our two extensions: a
 * container reports a failed batch (type 3) and says it is leaving (type 4). Must not touch sockets or
 * call the model.
 */

export const RPC_VERSION = 3;

export const MessageType = {
  NEW_CONTAINER: 0,
  CONTAINER_CONTENT: 1,
  HEARTBEAT: 2,
  BATCH_ERROR: 3,
  LEAVING: 4,
} as const;
const HEARTBEAT_REQUEST_METADATA = 1;
const REQUEST_PREDICT = 0;
const REQUEST_FEEDBACK = 1;

/** The wire ids of the five input types. */
export const InputType = {
  bytes: 0,
  ints: 1,
  floats: 2,
  doubles: 3,
  strings: 4,
} as const;
export type InputTypeName = keyof typeof InputType;
const INPUT_TYPE_NAMES = Object.keys(InputType) as InputTypeName[];

/** One decoded input: typed arrays for numeric types, raw bytes, or text. */
export type Input =
  | Uint8Array
  | Int32Array
  | Float32Array
  | Float64Array
  | string;

export type FrontendMessage =
  | { readonly kind: "heartbeat"; readonly request_metadata: boolean }
  | {
    readonly kind: "predict";
    readonly msg_id: Uint8Array;
    readonly input_type: InputTypeName;
    readonly inputs: Input[];
  }
  | { readonly kind: "feedback"; readonly msg_id: Uint8Array };

/** Frames that do not form a valid message; `msg_id` is set when a prediction request's id was readable. */
export class ProtocolError extends Error {
  constructor(message: string, readonly msg_id?: Uint8Array) {
    super(message);
    this.name = "ProtocolError";
  }
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

function u64s(values: readonly number[]): Uint8Array {
  const out = new Uint8Array(8 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setBigUint64(8 * i, BigInt(v), true));
  return out;
}

const EMPTY = new Uint8Array(0);

export function encodeHeartbeat(): Uint8Array[] {
  return [EMPTY, u32(MessageType.HEARTBEAT)];
}

/** `replica`, when given, goes in our extension frame after the RPC version (the number the process manager
 * gave this replica); the original frontend never starts containers with one. */
export function encodeNewContainer(
  name: string,
  version: string,
  input_type: InputTypeName,
  replica?: number,
): Uint8Array[] {
  const frames = [
    EMPTY,
    u32(MessageType.NEW_CONTAINER),
    encoder.encode(name),
    encoder.encode(version),
    encoder.encode(String(InputType[input_type])),
    u32(RPC_VERSION),
  ];
  return replica === undefined ? frames : [...frames, u32(replica)];
}

/** `msg_id` is the 4-byte id frame exactly as received. */
export function encodeResponse(
  msg_id: Uint8Array,
  outputs: readonly string[],
): Uint8Array[] {
  const encoded = outputs.map((o) => encoder.encode(o));
  const header = u64s([encoded.length, ...encoded.map((o) => o.length)]);
  return [
    EMPTY,
    u32(MessageType.CONTAINER_CONTENT),
    msg_id,
    u64s([header.length]),
    header,
    ...encoded,
  ];
}

export function encodeBatchError(
  msg_id: Uint8Array,
  message: string,
): Uint8Array[] {
  return [EMPTY, u32(MessageType.BATCH_ERROR), msg_id, encoder.encode(message)];
}

export function encodeLeaving(): Uint8Array[] {
  return [EMPTY, u32(MessageType.LEAVING)];
}

/** Walks one message's frames, naming the field that is missing or malformed. */
class Reader {
  #next = 0;
  msg_id?: Uint8Array;
  constructor(readonly frames: readonly Uint8Array[]) {}

  fail(message: string): ProtocolError {
    return new ProtocolError(message, this.msg_id);
  }

  frame(field: string): Uint8Array {
    const frame = this.frames[this.#next++];
    if (frame === undefined) {
      throw this.fail(`message ends before frame "${field}"`);
    }
    return frame;
  }

  fixed(field: string, size: number): Uint8Array {
    const frame = this.frame(field);
    if (frame.length !== size) {
      throw this.fail(
        `frame "${field}" has ${frame.length} bytes, expected ${size}`,
      );
    }
    return frame;
  }

  u32(field: string): number {
    const f = this.fixed(field, 4);
    return new DataView(f.buffer, f.byteOffset, 4).getUint32(0, true);
  }

  u64s(field: string, count: number): number[] {
    const f = this.fixed(field, 8 * count);
    const view = new DataView(f.buffer, f.byteOffset, f.length);
    return Array.from(
      { length: count },
      (_, i) => Number(view.getBigUint64(8 * i, true)),
    );
  }

  rest(): readonly Uint8Array[] {
    return this.frames.slice(this.#next);
  }
}

function decodeInput(
  r: Reader,
  type: InputTypeName,
  index: number,
  frame: Uint8Array,
  size: number,
): Input {
  if (frame.length !== size) {
    throw r.fail(
      `input ${index} has ${frame.length} bytes but the header announces ${size}`,
    );
  }
  // A copy: received frames may sit at any offset, and typed arrays need aligned, owned memory.
  const owned = new Uint8Array(frame);
  switch (type) {
    case "bytes":
      return owned;
    case "strings":
      try {
        return strictDecoder.decode(owned);
      } catch {
        throw r.fail(`input ${index} is not UTF-8`);
      }
    case "ints":
    case "floats":
    case "doubles": {
      const width = type === "doubles" ? 8 : 4;
      if (size % width !== 0) {
        throw r.fail(
          `input ${index} has ${size} bytes, not a whole number of ${type}`,
        );
      }
      if (type === "ints") return new Int32Array(owned.buffer);
      return type === "floats" ? new Float32Array(owned.buffer) : new Float64Array(owned.buffer);
    }
  }
}

/** Decodes the frames a DEALER receives: `["", version, type, ...]`. */
export function decodeFrontendMessage(
  frames: readonly Uint8Array[],
): FrontendMessage {
  const r = new Reader(frames);
  if (r.frame("delimiter").length !== 0) {
    throw r.fail("first frame is not the empty delimiter");
  }
  const version = r.u32("rpc version");
  if (version !== RPC_VERSION) {
    throw r.fail(
      `RPC version ${version} is not supported (this container speaks ${RPC_VERSION})`,
    );
  }
  const type = r.u32("message type");
  if (type === MessageType.HEARTBEAT) {
    return {
      kind: "heartbeat",
      request_metadata: r.u32("heartbeat type") === HEARTBEAT_REQUEST_METADATA,
    };
  }
  if (type !== MessageType.CONTAINER_CONTENT) {
    throw r.fail(`unknown message type ${type}`);
  }
  r.msg_id = new Uint8Array(r.fixed("message id", 4));
  const request = r.u32("request type");
  if (request === REQUEST_FEEDBACK) {
    return { kind: "feedback", msg_id: r.msg_id };
  }
  if (request !== REQUEST_PREDICT) {
    throw r.fail(`unknown request type ${request}`);
  }
  const [headerBytes] = r.u64s("input header length", 1);
  if (headerBytes === undefined || headerBytes % 8 !== 0 || headerBytes < 16) {
    throw r.fail(
      `input header length ${headerBytes} is not a multiple of 8 of at least 16`,
    );
  }
  const header = r.u64s("input header", headerBytes / 8);
  const [typeId, count, ...sizes] = header as [number, number, ...number[]];
  const input_type = INPUT_TYPE_NAMES[typeId];
  if (input_type === undefined) throw r.fail(`unknown input type ${typeId}`);
  const frames_left = r.rest();
  if (count !== sizes.length || count !== frames_left.length) {
    throw r.fail(
      `input header announces ${count} inputs with ${sizes.length} sizes but ${frames_left.length} frames follow`,
    );
  }
  const inputs = frames_left.map((f, i) => decodeInput(r, input_type, i, f, sizes[i]!));
  return { kind: "predict", msg_id: r.msg_id, input_type, inputs };
}

/** Encodes a prediction request as the frontend sends it (for tests that play the frontend). */
export function encodePredictionRequest(
  msg_id: number,
  input_type: InputTypeName,
  inputs: readonly Uint8Array[],
): Uint8Array[] {
  const header = u64s([
    InputType[input_type],
    inputs.length,
    ...inputs.map((i) => i.length),
  ]);
  return [
    EMPTY,
    u32(RPC_VERSION),
    u32(MessageType.CONTAINER_CONTENT),
    u32(msg_id),
    u32(REQUEST_PREDICT),
    u64s([header.length]),
    header,
    ...inputs,
  ];
}

/** Encodes a heartbeat as the frontend sends it (for tests that play the frontend). */
export function encodeFrontendHeartbeat(
  request_metadata: boolean,
): Uint8Array[] {
  return [
    EMPTY,
    u32(RPC_VERSION),
    u32(MessageType.HEARTBEAT),
    u32(request_metadata ? HEARTBEAT_REQUEST_METADATA : 0),
  ];
}
