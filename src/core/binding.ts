/**
 * The one binding to the native serving core (native/core/src/ffi). Reads like a C header: the symbol
 * table with each parameter named, the status codes, and `unwrap(code)`. Nothing outside `src/core/`
 * touches pointers or this file's symbols.
 *
 * Must stay in lockstep with `CLIPPER_ABI_VERSION` in native/core/src/ffi/mod.rs: `openLibrary` refuses a
 * library built for another version.
 */

export const ABI_VERSION = 6;

export const SYMBOLS = {
  /** () -> u32: the ABI version the library was built for. */
  clipper_abi_version: { parameters: [], result: "u32" },
  /** (endpoint, endpoint_len, replica_timeout_ms, busy_replica_timeout_ms, max_outstanding_queries,
  /** (endpoint, endpoint_len, replica_timeout_ms, busy_replica_timeout_ms, max_outstanding_queries,
   *  max_outstanding_per_model, prediction_cache_bytes: u64 (0: no cache), max_frame_bytes: u64 (1 to 2^30),
   *  out_core: *mut *mut Core) -> status */
  clipper_core_new: {
    parameters: ["buffer", "usize", "u32", "u32", "u32", "u32", "u64", "u64", "buffer"],
    result: "i32",
  },
  /** (core) -> status: stops the core thread and wakes pollers with CLOSED. Idempotent. */
  clipper_core_close: { parameters: ["pointer"], result: "i32" },
  /** (core) -> void */
  clipper_core_free: { parameters: ["pointer"], result: "void" },
  /** (core, name, name_len, version, version_len, input_type, batch_size, sizing (0 AIMD, 1 quantile),
   *  batch_delay_micros, latency_objective_micros, out_model: *mut u32) -> status */
  clipper_model_configure: {
    parameters: [
      "pointer",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "u32",
      "i32",
      "u32",
      "u64",
      "u64",
      "buffer",
    ],
    result: "i32",
  },
  /** (core, model) -> status */
  clipper_model_remove: { parameters: ["pointer", "u32"], result: "i32" },
  /** (core, model, latency_slo_micros, count, first_id: u64 (ids first_id..first_id + count),
   *  offsets: *const u32 [count + 1], data, data_len, hits: completion records of cached answers, hits_len,
   *  out_hits: *mut u32) -> status. Queries not among the hits are queued and answered through the poll. */
  clipper_submit: {
    parameters: [
      "pointer",
      "u32",
      "u64",
      "u32",
      "u64",
      "buffer",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "buffer",
    ],
    result: "i32",
  },
  /** (core, count, out_first: *mut u64) -> status: reserves query ids first..first + count. */
  clipper_allocate_query_ids: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  /** (core, buf, buf_len, timeout_ms, out_count: *mut u32, out_used: *mut u64) -> status; blocks, so it
   *  runs off the main thread. */
  clipper_poll_completions: {
    parameters: ["pointer", "buffer", "usize", "u32", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  /** (core, buf, buf_len, out_len: *mut u64) -> status; JSON of replicas and counters. */
  clipper_core_snapshot: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  /** (core, host, host_len, port (0: any), fallback_port, max_body_bytes: u64, header_read_timeout_ms,
   *  body_read_timeout_ms, idle_timeout_ms, max_connections, tls_cert, tls_cert_len, tls_key, tls_key_len,
   *  admin: u32, threads: u32, out_port: *mut u32) -> status: serves the query port natively (HTTPS with
   *  both PEM paths) on `threads` threads, forwarding what it does not answer to 127.0.0.1:fallback_port over
   *  plain loopback HTTP; with admin 1, the admin port, which forwards everything. */
  clipper_http_start: {
    parameters: [
      "pointer",
      "buffer",
      "usize",
      "u32",
      "u32",
      "u64",
      "u32",
      "u32",
      "u32",
      "u32",
      "buffer",
      "usize",
      "buffer",
      "usize",
      "u32",
      "u32",
      "buffer",
    ],
    result: "i32",
  },
  /** (core, drain_timeout_ms) -> status: stops the native query and admin ports once the requests they
   *  took are answered (drain_timeout_ms at most). Idempotent. Blocks, and forwarded requests need the main
   *  thread, so it runs off it. */
  clipper_http_stop: { parameters: ["pointer", "u32"], result: "i32", nonblocking: true },
  /** (core, json, json_len) -> status: replaces the app table the native query port answers from
   *  (selections and their users' weights included). */
  clipper_http_set_apps: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  /** (core, json, json_len) -> status: sets one user's weights in an app's selection from
   *  `{"app", "uid", "weights": [..]}` (uid "0": the shared weights); INVALID_ARGUMENT for an app not
   *  published, an app without selection, or weights that are not one finite number ≥ 0 per member. */
  clipper_http_set_user_weights: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  /** (core, buf, buf_len, out_len: *mut u64) -> status; JSON of the native query port's counters since
   *  the last call (nothing taken with BUFFER_TOO_SMALL, out_len then the size needed). */
  clipper_http_take_metrics: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  /** (core, buf, buf_len, out_len: *mut u64) -> status; why the core thread failed (its panic's message
   *  and location), length 0 while it has not; from any thread. */
  clipper_core_failure: { parameters: ["pointer", "buffer", "usize", "buffer"], result: "i32" },
  /** (core) -> status: makes the core thread panic, to test containment; INVALID_ARGUMENT unless the core
   *  started with CLIPPER_CORE_FAULT_INJECTION=1. */
  clipper_debug_panic: { parameters: ["pointer"], result: "i32" },
  /** (buf, buf_len, out_len: *mut u64) -> status; the calling thread's last error message. */
  clipper_last_error: { parameters: ["buffer", "usize", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export type NativeLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;

export const Status = {
  OK: 0,
  NULL_POINTER: 1,
  INVALID_ARGUMENT: 2,
  BIND_FAILED: 3,
  CLOSED: 4,
  BUFFER_TOO_SMALL: 5,
  UNKNOWN_MODEL: 6,
  TIMED_OUT: 7,
  OVERLOADED: 8,
  PANIC: 9,
  /** The core thread panicked: nothing more is served; the process must restart. */
  CORE_FAILED: 10,
  /** A submission of more queries than an admission bound: no retry can help. */
  TOO_LARGE: 11,
} as const;

/** Completion record statuses (native/core/src/completion). */
export const CompletionStatus = {
  OK: 0,
  DEADLINE_MISSED: 1,
  NO_CONNECTED_MODEL: 2,
  MODEL_ERROR: 3,
  DROPPED: 4,
} as const;

/** A non-OK status from the core, with the library's own message. */
export class NativeError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "NativeError";
  }
}

/** Throws a `NativeError` carrying the last error message unless `code` is OK. */
export function unwrap(lib: NativeLibrary, code: number): void {
  if (code === Status.OK) return;
  const buf = new Uint8Array(1024);
  const len = new BigUint64Array(1);
  lib.symbols.clipper_last_error(buf, BigInt(buf.length), len);
  const message = new TextDecoder().decode(buf.subarray(0, Math.min(Number(len[0]), buf.length)));
  throw new NativeError(code, message || `Serving core call failed with status ${code}`);
}

/** The path of the release build of the core, relative to this file. */
export function defaultLibraryPath(): string {
  const name = Deno.build.os === "darwin"
    ? "libclipper_core.dylib"
    : Deno.build.os === "windows"
    ? "clipper_core.dll"
    : "libclipper_core.so";
  return new URL(`../../native/target/release/${name}`, import.meta.url).pathname;
}

/** Opens the library and checks its ABI version. */
export function openLibrary(path: string = defaultLibraryPath()): NativeLibrary {
  let lib: NativeLibrary;
  try {
    lib = Deno.dlopen(path, SYMBOLS);
  } catch (err) {
    throw new Error(
      `Cannot load the serving core "${path}": ${
        (err as Error).message
      }. Build it with "deno task build:native"`,
    );
  }
  const version = lib.symbols.clipper_abi_version();
  if (version !== ABI_VERSION) {
    lib.close();
    throw new Error(
      `Cannot use the serving core "${path}": it has ABI version ${version}, expected ${ABI_VERSION}`,
    );
  }
  return lib;
}
