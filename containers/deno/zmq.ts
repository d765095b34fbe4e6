/**
 * A ZeroMQ DEALER socket over libzmq (Debian's libzmq5) through Deno's FFI: just what a container needs
 * (connect, send a multipart message, receive one with a timeout, close).
 *
 * Why not the npm `zeromq` package: in Deno 2.9 its native addon loads, but its receive path relies on
 * libuv polling that Deno's shims do not drive: `receive()` never resolves, and with `receiveTimeout` set
 * the process segfaults. Blocking receives here run through a `nonblocking` FFI call on a worker thread;
 * the socket is never used from two threads at once, because the container awaits each receive before it
 * sends.
 */

const ZMQ_DEALER = 5;
const ZMQ_LINGER = 17;
const ZMQ_RCVTIMEO = 27;
const ZMQ_SNDMORE = 2;
const EAGAIN = 11;
const EINTR = 4;
/** zmq_msg_t is an opaque 64-byte structure. */
const MSG_BYTES = 64;

const SYMBOLS = {
  zmq_ctx_new: { parameters: [], result: "pointer" },
  zmq_ctx_term: { parameters: ["pointer"], result: "i32", nonblocking: true },
  zmq_socket: { parameters: ["pointer", "i32"], result: "pointer" },
  zmq_close: { parameters: ["pointer"], result: "i32" },
  zmq_setsockopt: { parameters: ["pointer", "i32", "buffer", "usize"], result: "i32" },
  zmq_connect: { parameters: ["pointer", "buffer"], result: "i32" },
  zmq_send: { parameters: ["pointer", "buffer", "usize", "i32"], result: "i32" },
  zmq_msg_init: { parameters: ["buffer"], result: "i32" },
  zmq_msg_recv: { parameters: ["buffer", "pointer", "i32"], result: "i32", nonblocking: true },
  zmq_msg_data: { parameters: ["buffer"], result: "pointer" },
  zmq_msg_more: { parameters: ["buffer"], result: "i32" },
  zmq_msg_close: { parameters: ["buffer"], result: "i32" },
  zmq_errno: { parameters: [], result: "i32" },
  zmq_strerror: { parameters: ["i32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let lib: Lib | undefined;

function zmq(): Lib {
  if (!lib) {
    const candidates = [Deno.env.get("CLIPPER_LIBZMQ"), "libzmq.so.5", "libzmq.5.dylib", "libzmq.so"];
    const errors: string[] = [];
    for (const path of candidates) {
      if (!path) continue;
      try {
        lib = Deno.dlopen(path, SYMBOLS).symbols;
        break;
      } catch (err) {
        errors.push(`${path}: ${(err as Error).message}`);
      }
    }
    if (!lib) {
      throw new Error(`Cannot load libzmq (install libzmq5, or set CLIPPER_LIBZMQ): ${errors.join("; ")}`);
    }
  }
  return lib;
}

/** A libzmq failure, with its errno. */
export class ZmqError extends Error {
  constructor(readonly errno: number, action: string) {
    const text = Deno.UnsafePointerView.getCString(zmq().zmq_strerror(errno)!);
    super(`Cannot ${action}: ${text} (errno ${errno})`);
    this.name = "ZmqError";
  }
}

function check(result: number, action: string): number {
  if (result < 0) throw new ZmqError(zmq().zmq_errno(), action);
  return result;
}

function int32(value: number): Uint8Array {
  return new Uint8Array(new Int32Array([value]).buffer);
}

export class DealerSocket {
  readonly #context: Deno.PointerValue;
  readonly #socket: Deno.PointerValue;
  readonly #msg = new Uint8Array(MSG_BYTES);
  #closed = false;

  /** A DEALER connected to `endpoint`; `receive` waits at most `receive_timeout_millis`. */
  constructor(endpoint: string, receive_timeout_millis: number) {
    const z = zmq();
    this.#context = z.zmq_ctx_new();
    this.#socket = z.zmq_socket(this.#context, ZMQ_DEALER);
    if (this.#socket === null) throw new ZmqError(z.zmq_errno(), "create a DEALER socket");
    check(z.zmq_setsockopt(this.#socket, ZMQ_LINGER, int32(0), 4n), "set the socket's linger");
    check(
      z.zmq_setsockopt(this.#socket, ZMQ_RCVTIMEO, int32(receive_timeout_millis), 4n),
      "set the receive timeout",
    );
    check(z.zmq_connect(this.#socket, new TextEncoder().encode(`${endpoint}\0`)), `connect to "${endpoint}"`);
  }

  /** How long `close` lets unsent messages (a goodbye) leave. */
  set lingerMillis(value: number) {
    check(zmq().zmq_setsockopt(this.#socket, ZMQ_LINGER, int32(value), 4n), "set the socket's linger");
  }

  send(frames: readonly Uint8Array[]): void {
    const z = zmq();
    frames.forEach((frame, i) => {
      const flags = i < frames.length - 1 ? ZMQ_SNDMORE : 0;
      check(z.zmq_send(this.#socket, frame, BigInt(frame.length), flags), "send a frame");
    });
  }

  /** The next multipart message, or undefined when none came within the receive timeout (or a signal
   * interrupted the wait). */
  async receive(): Promise<Uint8Array[] | undefined> {
    const z = zmq();
    const frames: Uint8Array[] = [];
    do {
      check(z.zmq_msg_init(this.#msg), "initialise a message");
      const size = await z.zmq_msg_recv(this.#msg, this.#socket, 0);
      if (size < 0) {
        const errno = z.zmq_errno();
        z.zmq_msg_close(this.#msg);
        // A timeout, or a signal (SIGTERM: the caller checks whether it is stopping).
        if ((errno === EAGAIN || errno === EINTR) && frames.length === 0) return undefined;
        throw new ZmqError(errno, "receive a frame");
      }
      const data = z.zmq_msg_data(this.#msg);
      frames.push(
        size === 0 || data === null
          ? new Uint8Array(0)
          : new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(data, size).slice(0)),
      );
    } while (z.zmq_msg_more(this.#msg) === 1 && z.zmq_msg_close(this.#msg) === 0);
    z.zmq_msg_close(this.#msg);
    return frames;
  }

  /** Closes the socket and its context (waiting up to the linger for queued messages). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const z = zmq();
    z.zmq_close(this.#socket);
    await z.zmq_ctx_term(this.#context);
  }
}
