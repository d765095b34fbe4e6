/**
 * The serving core as the rest of the frontend sees it: register model versions, submit a request's
 * queries in one call, and get each query's answer: at once when the prediction cache has it, else as a
 * promise. Promised answers come back through one completion pump, a blocking native poll running off the
 * main thread that returns every ready answer at once (README, Architecture), never one callback per
 * query. Also starts and stops the core's own query port and hands it the app table and its counters.
 *
 * Owns the native handle and every buffer that crosses the boundary. Must not decide routes, validate
 * requests or pick models: callers pass model ids, objectives in microseconds, inputs already in wire
 * encoding, and the app table the routing table built (selection policies' weights included, which the
 * core applies per query but never learns: `setUserWeights` hands it one user's new weights).
 *
 * A core whose thread panicked fails every promised answer with `NativeError` (CORE_FAILED) at once,
 * refuses every later submission, and settles `failed` so the server can exit for its supervisor to
 * restart it (README, "Shutdown and restarts").
 */

import { CompletionStatus, NativeError, type NativeLibrary, openLibrary, Status, unwrap } from "./binding.ts";
import type { InputBatch } from "./input_batch.ts";
import type { MetricsDelta } from "../metrics/registry.ts";

export { CompletionStatus, NativeError, Status };

/** Wire ids of the input types (Clipper RPC v3). */
export const INPUT_TYPE_IDS = { bytes: 0, ints: 1, floats: 2, doubles: 3, strings: 4 } as const;
export type CoreInputType = keyof typeof INPUT_TYPE_IDS;

/** How adaptive batches are sized: AIMD against the objective, or the largest batch whose estimated p99
 * latency fits the earliest deadline waiting. */
export const SIZING_IDS = { aimd: 0, quantile: 1 } as const;
export type BatchSizing = keyof typeof SIZING_IDS;

/** A model version's batching, as `add_model` and `set_model_batching` set it. */
export interface ModelBatching {
  /** ≥ 1: a fixed maximum; −1: adaptive, sized by `batching`. */
  readonly batch_size: number;
  readonly batching: BatchSizing;
  /** How long a replica with room in its batch may wait for more queries; 0: never. */
  readonly batch_delay_micros: number;
}

export interface CoreOptions {
  /** ZeroMQ endpoint the RPC socket binds, e.g. `tcp://127.0.0.1:7000`. */
  readonly rpc_endpoint: string;
  readonly replica_timeout_millis: number;
  readonly busy_replica_timeout_millis: number;
  readonly max_outstanding_queries: number;
  /** The most queries one model version may have outstanding; absent: `max_outstanding_queries`. */
  readonly max_outstanding_per_model?: number;
  /** Budget of the prediction cache; 0 turns it off. */
  readonly prediction_cache_bytes: number;
  /** A container announcing a larger frame is disconnected (1 to 2^30). */
  readonly max_frame_bytes: number;
  readonly library_path?: string;
}

/** How one query ended. */
export interface Completion {
  readonly query_id: number;
  readonly status: number;
  /** The model's UTF-8 output (status OK), or why there is none. */
  readonly payload: string;
  readonly model_latency_micros: number;
  readonly batch_size: number;
  /** From submission to the query's batch being sent; 0 when no batch was sent for it. */
  readonly queue_micros: number;
  /** True when the prediction cache answered (no model ran for this query). */
  readonly cached: boolean;
}

export interface ReplicaSnapshot {
  readonly model_name: string;
  readonly model_version: string;
  readonly model_replica_id: number;
  readonly zmq_connection_id: number;
  readonly input_type: string;
  readonly connected_at_ms: number;
  readonly last_seen_ms: number;
  readonly busy: boolean;
  readonly batches_completed: number;
}

export interface CoreSnapshot {
  readonly replicas: ReplicaSnapshot[];
  readonly counters: Record<string, number>;
  readonly queued_queries: number;
  readonly inflight_batches: number;
  readonly cache: Record<string, number>;
}

/** A model version as the native query port names it: its core id and `name:version`. */
export interface NativeTarget {
  readonly model: number;
  readonly label: string;
}

/**
 * A selection policy as the native query port applies it (native/core/src/http/selection.rs). Mode "one"
 * sends each query to one member, drawn with the weights as probabilities; mode "all" sends it to every
 * member and combines their answers (tests/vectors/selection.json states the rules).
 */
export interface NativeSelection {
  readonly mode: "one" | "all";
  /** How mode "all" combines; "vote" when absent. */
  readonly combine?: "vote" | "mean";
  /** Below this confidence (0 to 1) a combined answer is the default output; 0 (the default) is off. */
  readonly min_confidence?: number;
  readonly members: readonly NativeTarget[];
  /** The shared weights (uid "0"), one finite number ≥ 0 per member. */
  readonly weights: readonly number[];
  /** Users' own weights, by uid as the core keys it: a string uid as is, an integer as its decimal text. */
  readonly users?: Readonly<Record<string, readonly number[]>>;
}

/** An app as the native query port sees it (native/core/src/http/apps.rs). */
export interface NativeApp {
  readonly name: string;
  /** Wire id (`INPUT_TYPE_IDS`). */
  readonly input_type: number;
  readonly default_output: string;
  readonly latency_slo_micros: number;
  /** The model version its queries go to; null answers them with the default output. Unused with a
   *  selection. */
  readonly target: NativeTarget | null;
  /** The app's selection policy; absent or null: `target` answers. */
  readonly selection?: NativeSelection | null;
}

export interface NativeHttpOptions {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** The frontend's own query server on loopback, which answers whatever the native port forwards. */
  readonly fallback_port: number;
  readonly max_body_bytes: number;
  /** A request head must arrive within this, or its connection closes. */
  readonly header_read_timeout_millis: number;
  /** A request body must arrive within this (after its head), or its connection closes. */
  readonly body_read_timeout_millis: number;
  /** A kept-alive connection waiting longer for its next request is closed. */
  readonly idle_timeout_millis: number;
  /** Connections open at once; one more is closed at once. */
  readonly max_connections: number;
  /** PEM file paths; both given: the port speaks HTTPS. */
  readonly tls_cert?: string;
  readonly tls_key?: string;
  /** The admin port: the core answers nothing there and forwards every request to `fallback_port`. */
  readonly admin?: boolean;
  /** Threads serving the port (1, the default: the core's own thread only). */
  readonly threads?: number;
}

const RECORD_HEADER_BYTES = 28;
/** Room for cached answers per submit; a hit that does not fit is simply queued like a miss. */
const HITS_BUFFER_BYTES = 64 * 1024;
const POLL_TIMEOUT_MILLIS = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class ServingCore {
  readonly #lib: NativeLibrary;
  readonly #handle: Deno.PointerObject;
  /** A promised answer's resolver; handed a rejected promise when the core fails. */
  readonly #waiters = new Map<number, (c: Completion | PromiseLike<Completion>) => void>();
  readonly #failed: Promise<NativeError>;
  #fail!: (err: NativeError) => void;
  readonly #pump: Promise<void>;
  readonly #hits = new Uint8Array(HITS_BUFFER_BYTES);
  readonly #hitCount = new Uint32Array(1);
  readonly #firstId = new BigUint64Array(1);
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(lib: NativeLibrary, handle: Deno.PointerObject) {
    this.#lib = lib;
    this.#handle = handle;
    this.#failed = new Promise((resolve) => this.#fail = resolve);
    this.#pump = this.#runPump();
  }

  /** Loads the library, binds the RPC endpoint and starts the core thread. */
  static open(options: CoreOptions): ServingCore {
    const lib = openLibrary(options.library_path);
    const endpoint = encoder.encode(options.rpc_endpoint);
    const out = new BigUint64Array(1);
    try {
      unwrap(
        lib,
        lib.symbols.clipper_core_new(
          endpoint,
          BigInt(endpoint.length),
          options.replica_timeout_millis,
          options.busy_replica_timeout_millis,
          options.max_outstanding_queries,
          options.max_outstanding_per_model ?? options.max_outstanding_queries,
          BigInt(options.prediction_cache_bytes),
          BigInt(options.max_frame_bytes),
          out,
        ),
      );
    } catch (err) {
      lib.close();
      throw err;
    }
    const handle = Deno.UnsafePointer.create(out[0]!);
    if (handle === null) throw new Error("Serving core returned a null handle");
    return new ServingCore(lib, handle);
  }

  /** Registers or reconfigures `name:version`; returns the id to submit to. */
  configureModel(
    name: string,
    version: string,
    input_type: CoreInputType,
    batching: ModelBatching,
    latency_objective_micros: number,
  ): number {
    const n = encoder.encode(name);
    const v = encoder.encode(version);
    const out = new Uint32Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.clipper_model_configure(
        this.#handle,
        n,
        BigInt(n.length),
        v,
        BigInt(v.length),
        INPUT_TYPE_IDS[input_type],
        batching.batch_size,
        SIZING_IDS[batching.batching],
        BigInt(batching.batch_delay_micros),
        BigInt(latency_objective_micros),
        out,
      ),
    );
    return out[0]!;
  }

  /** Stops serving a model version; its waiting queries are answered as dropped. */
  removeModel(model: number): void {
    unwrap(this.#lib, this.#lib.symbols.clipper_model_remove(this.#handle, model));
  }

  /**
   * Submits one request's inputs for `model`, due within `latency_slo_micros`. The core copies what it
   * keeps, so `inputs` may be reused as soon as this returns. Returns one answer per input: the completion
   * itself when the prediction cache had it, else a promise of it. Throws `NativeError` (OVERLOADED,
   * CLOSED, UNKNOWN_MODEL) when the core refuses: then nothing was taken and the caller answers the request
   * itself.
   */
  submit(
    model: number,
    latency_slo_micros: number,
    inputs: InputBatch,
  ): (Completion | Promise<Completion>)[] {
    if (this.#closed) throw new NativeError(Status.CLOSED, "The serving core is closed");
    const count = inputs.count;
    const first = this.allocateQueryIds(count);
    const code = this.#lib.symbols.clipper_submit(
      this.#handle,
      model,
      BigInt(latency_slo_micros),
      count,
      BigInt(first),
      inputs.offsets,
      inputs.bytes,
      BigInt(inputs.length),
      this.#hits,
      BigInt(HITS_BUFFER_BYTES),
      this.#hitCount,
    );
    unwrap(this.#lib, code);
    const answers: (Completion | Promise<Completion>)[] = new Array(count);
    const hits = this.#hitCount[0]!;
    if (hits > 0) {
      for (const done of readRecords(this.#hits, hits, true)) answers[done.query_id - first] = done;
    }
    for (let i = 0; i < count; i++) {
      if (answers[i] === undefined) {
        answers[i] = new Promise((resolve) => this.#waiters.set(first + i, resolve));
      }
    }
    return answers;
  }

  /** Reserves `count` consecutive query ids (also for queries answered without reaching the core). */
  allocateQueryIds(count: number): number {
    unwrap(this.#lib, this.#lib.symbols.clipper_allocate_query_ids(this.#handle, count, this.#firstId));
    return Number(this.#firstId[0]);
  }

  /**
   * Serves the query port from the core itself: it answers `POST /{app}/predict` for the published apps
   * and forwards every other request to `127.0.0.1:fallback_port`. Returns the bound port. With `admin`,
   * it serves the admin port the same way, forwarding everything (so TLS and connection limits apply there
   * too).
   */
  startHttp(options: NativeHttpOptions): number {
    const host = encoder.encode(options.host);
    const [cert, key] = [encoder.encode(options.tls_cert ?? ""), encoder.encode(options.tls_key ?? "")];
    const out = new Uint32Array(1);
    unwrap(
      this.#lib,
      this.#lib.symbols.clipper_http_start(
        this.#handle,
        host,
        BigInt(host.length),
        options.port,
        options.fallback_port,
        BigInt(options.max_body_bytes),
        options.header_read_timeout_millis,
        options.body_read_timeout_millis,
        options.idle_timeout_millis,
        options.max_connections,
        cert,
        BigInt(cert.length),
        key,
        BigInt(key.length),
        options.admin ? 1 : 0,
        options.threads ?? 1,
        out,
      ),
    );
    return out[0]!;
  }

  /** Stops the native query and admin ports once the requests they took are answered
   *  (`drain_timeout_millis` at most). */
  async stopHttp(drain_timeout_millis: number): Promise<void> {
    if (this.#closed) return;
    const code = await this.#lib.symbols.clipper_http_stop(this.#handle, drain_timeout_millis);
    // The call ran on a worker thread, so this thread's last error is not its own.
    if (code !== Status.OK) throw new NativeError(code, `Stopping the query port failed with status ${code}`);
  }

  /**
   * Replaces the apps the native query port answers; any other app's requests are forwarded. Users'
   * weights set since the last call are dropped: the table carries them all. Throws `NativeError`
   * (INVALID_ARGUMENT) for a table the core refuses, which then changes nothing.
   */
  publishApps(apps: readonly NativeApp[]): void {
    const json = encoder.encode(JSON.stringify(apps));
    unwrap(this.#lib, this.#lib.symbols.clipper_http_set_apps(this.#handle, json, BigInt(json.length)));
  }

  /**
   * Sets the weights of user `uid` (as the core keys it; "0": the shared weights) in published app
   * `app`'s selection, seen by its next query. Throws `NativeError` (INVALID_ARGUMENT) for an app not
   * published, an app without selection, or weights that are not one finite number ≥ 0 per member.
   */
  setUserWeights(app: string, uid: string, weights: readonly number[]): void {
    const json = encoder.encode(JSON.stringify({ app, uid, weights }));
    unwrap(
      this.#lib,
      this.#lib.symbols.clipper_http_set_user_weights(this.#handle, json, BigInt(json.length)),
    );
  }

  /** What the native query port answered since the last call, to merge into the metrics report. */
  takeHttpMetrics(): MetricsDelta {
    return JSON.parse(this.#readJson(this.#lib.symbols.clipper_http_take_metrics));
  }

  /** Connected replicas and core counters, as of the engine's last publication (at most 250 ms old). */
  snapshot(): CoreSnapshot {
    const parsed = JSON.parse(this.#readJson(this.#lib.symbols.clipper_core_snapshot));
    return parsed ?? { replicas: [], counters: {}, queued_queries: 0, inflight_batches: 0, cache: {} };
  }

  /** Calls a `(core, buf, buf_len, out_len)` export that writes JSON, growing the buffer once if asked. */
  #readJson(
    call: (core: Deno.PointerObject, buf: Uint8Array, len: bigint, out: BigUint64Array) => number,
  ): string {
    let buf = new Uint8Array(64 * 1024);
    const len = new BigUint64Array(1);
    let code = call(this.#handle, buf, BigInt(buf.length), len);
    if (code === Status.BUFFER_TOO_SMALL) {
      buf = new Uint8Array(Number(len[0]));
      code = call(this.#handle, buf, BigInt(buf.length), len);
    }
    unwrap(this.#lib, code);
    return decoder.decode(buf.subarray(0, Number(len[0])));
  }

  /**
   * Settles when the core thread fails (a panic, logged to stderr with its location): every answer it
   * promised has then failed, and nothing more is served. Never settles for a core that keeps working.
   */
  get failed(): Promise<NativeError> {
    return this.#failed;
  }

  /** Makes the core thread panic, to test containment: refused unless the core started with
   *  CLIPPER_CORE_FAULT_INJECTION=1 in its environment. */
  debugPanic(): void {
    unwrap(this.#lib, this.#lib.symbols.clipper_debug_panic(this.#handle));
  }

  /**
   * Closes the core once, after letting the native query port answer what it took for up to
   * `drain_timeout_millis`; queries still waiting are answered as dropped. A second call (a second
   * SIGTERM during shutdown) waits for the first.
   */
  close(drain_timeout_millis = 10_000): Promise<void> {
    this.#closing ??= this.#close(drain_timeout_millis);
    return this.#closing;
  }

  async #close(drain_timeout_millis: number): Promise<void> {
    await this.stopHttp(drain_timeout_millis);
    this.#closed = true;
    unwrap(this.#lib, this.#lib.symbols.clipper_core_close(this.#handle));
    await this.#pump;
    for (const [query_id, resolve] of this.#waiters) {
      const payload = "Server is shutting down";
      resolve({
        query_id,
        status: CompletionStatus.DROPPED,
        payload,
        model_latency_micros: 0,
        batch_size: 0,
        queue_micros: 0,
        cached: false,
      });
    }
    this.#waiters.clear();
    this.#lib.symbols.clipper_core_free(this.#handle);
    this.#lib.close();
  }

  async #runPump(): Promise<void> {
    let buf = new Uint8Array(1 << 20);
    const count = new Uint32Array(1);
    const used = new BigUint64Array(1);
    while (true) {
      const code = await this.#lib.symbols.clipper_poll_completions(
        this.#handle,
        buf,
        BigInt(buf.length),
        POLL_TIMEOUT_MILLIS,
        count,
        used,
      );
      if (code === Status.CLOSED) return;
      if (code === Status.CORE_FAILED) return this.#failAll();
      if (code === Status.BUFFER_TOO_SMALL) {
        buf = new Uint8Array(Math.max(buf.length * 2, Number(used[0])));
        continue;
      }
      // The poll ran on a worker thread, so the main thread's last error is not its own.
      if (code !== Status.OK) throw new NativeError(code, `Polling completions failed with status ${code}`);
      this.#deliver(buf, count[0]!);
    }
  }

  /** Fails every promised answer with why the core thread failed, then settles `failed`. */
  #failAll(): void {
    const why = this.#readJson(this.#lib.symbols.clipper_core_failure);
    const err = new NativeError(Status.CORE_FAILED, `The serving core failed: ${why}`);
    const failed = Promise.reject(err);
    // Each waiter's promise rejects; this one is only their common cause.
    failed.catch(() => {});
    for (const resolve of this.#waiters.values()) resolve(failed);
    this.#waiters.clear();
    this.#fail(err);
  }

  #deliver(buf: Uint8Array, count: number): void {
    for (const completion of readRecords(buf, count, false)) {
      const resolve = this.#waiters.get(completion.query_id);
      if (resolve) {
        this.#waiters.delete(completion.query_id);
        resolve(completion);
      }
    }
  }
}

/** Reads `count` completion records (layout in native/core/src/completion) from the front of `buf`. */
function readRecords(buf: Uint8Array, count: number, cached: boolean): Completion[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Completion[] = new Array(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const length = view.getUint32(offset + 12, true);
    const start = offset + RECORD_HEADER_BYTES;
    records[i] = {
      query_id: view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 2 ** 32,
      status: view.getUint32(offset + 8, true),
      payload: length === 0 ? "" : decoder.decode(buf.subarray(start, start + length)),
      model_latency_micros: view.getUint32(offset + 16, true),
      batch_size: view.getUint32(offset + 20, true),
      queue_micros: view.getUint32(offset + 24, true),
      cached,
    };
    offset = start + length;
  }
  return records;
}
