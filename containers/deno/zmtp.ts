/**
 * A ZeroMQ DEALER over one TCP connection, in TypeScript: ZMTP 3.0 with the NULL mechanism, no libzmq.
 *
 * Owns the wire below the Clipper messages: the greeting, the READY handshake, frame headers and reading
 * whole messages off the connection. Must not know what the frames mean (`rpc.ts`) nor reconnect
 * (`container.ts`). Facts from RFC 23 (ZMTP 3.0): a 64-byte greeting each way, one READY command each way
 * naming the socket type, then frames with a flag byte (MORE 0x01, LONG 0x02, COMMAND 0x04) and a 1-byte
 * or 8-byte big-endian size. With no routing identity in READY, the ROUTER makes one up per connection, so a
 * reconnected container is a new peer.
 *
 * Why not libzmq: Deno reaches it only through FFI (the npm `zeromq` addon's receive never resolves in Deno
 * 2.9), which needed the system's libzmq5 and a worker thread per blocking receive.
 */

export const GREETING_BYTES = 64;
const MORE = 0x01;
const LONG = 0x02;
const COMMAND = 0x04;
/** No frontend message comes near this; a garbage size must not make us allocate it. */
export const MAX_MESSAGE_BYTES = 2 ** 30;

/** The peer does not speak ZMTP 3 as a ROUTER, or broke the framing: the connection is unusable. */
export class ZmtpError extends Error {
  override name = "ZmtpError";
}

const ascii = (text: string) => new TextEncoder().encode(text);

/** Signature, version 3.0, the NULL mechanism, not as-server, filler. */
export function greeting(): Uint8Array {
  const g = new Uint8Array(GREETING_BYTES);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g.set(ascii("NULL"), 12);
  return g;
}

export function checkGreeting(peer: Uint8Array): void {
  if (peer[0] !== 0xff || !(peer[9]! & 0x01)) throw new ZmtpError("The peer does not speak ZMTP");
  if (peer[10]! < 3) throw new ZmtpError(`The peer speaks ZMTP revision ${peer[10]}, older than 3`);
  const mechanism = new TextDecoder().decode(peer.subarray(12, 32)).replace(/\0+$/, "");
  if (mechanism !== "NULL") throw new ZmtpError(`The peer asks for security mechanism "${mechanism}"`);
}

function header(flags: number, size: number): Uint8Array {
  if (size <= 255) return Uint8Array.of(flags, size);
  const h = new Uint8Array(9);
  h[0] = flags | LONG;
  new DataView(h.buffer).setBigUint64(1, BigInt(size));
  return h;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Our READY command: socket type DEALER, no identity. */
export function ready(): Uint8Array {
  const body = concat([Uint8Array.of(5), ascii("READY"), Uint8Array.of(11), ascii("Socket-Type")]);
  const value = concat([Uint8Array.of(0, 0, 0, 6), ascii("DEALER")]);
  return concat([header(COMMAND, body.length + value.length), body, value]);
}

/** One message as bytes on the wire. */
export function encode(frames: readonly Uint8Array[]): Uint8Array {
  return concat(frames.flatMap((f, i) => [header(i < frames.length - 1 ? MORE : 0, f.length), f]));
}

export interface FrameHead {
  readonly flags: number;
  /** Where the frame's body starts and ends in the buffer. */
  readonly body: number;
  readonly end: number;
}

/** The frame at `buf[start, end)`, or undefined when it is not all there. */
export function nextFrame(buf: Uint8Array, start: number, end: number): FrameHead | undefined {
  if (end - start < 2) return undefined;
  const flags = buf[start]!;
  let size: number;
  let body: number;
  if (flags & LONG) {
    if (end - start < 9) return undefined;
    const big = new DataView(buf.buffer, buf.byteOffset + start + 1, 8).getBigUint64(0);
    if (big > BigInt(MAX_MESSAGE_BYTES)) throw new ZmtpError(`The peer sent a frame of ${big} bytes`);
    size = Number(big);
    body = start + 9;
  } else {
    size = buf[start + 1]!;
    body = start + 2;
  }
  return end - body < size ? undefined : { flags, body, end: body + size };
}

/** The Socket-Type property of a READY command's body (after its name). */
function socketTypeOf(body: Uint8Array): string {
  const view = new DataView(body.buffer, body.byteOffset, body.length);
  const text = new TextDecoder();
  for (let at = 0; at < body.length;) {
    const nameLength = body[at]!;
    const name = text.decode(body.subarray(at + 1, at + 1 + nameLength));
    const valueAt = at + 5 + nameLength;
    if (valueAt > body.length) break;
    const valueLength = view.getUint32(at + 1 + nameLength);
    if (name.toLowerCase() === "socket-type") {
      return text.decode(body.subarray(valueAt, valueAt + valueLength));
    }
    at = valueAt + valueLength;
  }
  throw new ZmtpError("The peer's READY command names no socket type");
}

/** Whether `err` says the connection is unusable (an I/O error, or a peer that broke the protocol), as
 * opposed to a bug. */
export function isConnectionError(err: unknown): boolean {
  return err instanceof ZmtpError || Object.values(Deno.errors).some((kind) => err instanceof kind);
}

/** A read in progress: Deno cannot cancel one, so a receive that times out leaves it for the next. */
type Read = Promise<number | null | Error>;

/** A connected DEALER; one caller at a time. */
export class Dealer {
  readonly #conn: Deno.TcpConn;
  readonly #chunk = new Uint8Array(1 << 16);
  #buf = new Uint8Array(1 << 16);
  /** Unread bytes are #buf[#start, #end). */
  #start = 0;
  #end = 0;
  #reading: Read | undefined;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects and completes the handshake within `timeout_millis`. */
  static async connect(hostname: string, port: number, timeout_millis: number): Promise<Dealer> {
    const conn = await Deno.connect({ hostname, port, transport: "tcp" });
    const dealer = new Dealer(conn);
    try {
      conn.setNoDelay(true);
      await dealer.#write(concat([greeting(), ready()]));
      const deadline = Date.now() + timeout_millis;
      while (dealer.#end - dealer.#start < GREETING_BYTES) await dealer.#fillBy(deadline, "greeting");
      checkGreeting(dealer.#buf.subarray(dealer.#start, dealer.#start + GREETING_BYTES));
      dealer.#start += GREETING_BYTES;
      let frame: FrameHead | undefined;
      while (!(frame = nextFrame(dealer.#buf, dealer.#start, dealer.#end))) {
        await dealer.#fillBy(deadline, "READY command");
      }
      const command = dealer.#buf.subarray(frame.body, frame.end);
      if (!(frame.flags & COMMAND) || new TextDecoder().decode(command.subarray(0, 6)) !== "\x05READY") {
        throw new ZmtpError("The peer's first command is not READY");
      }
      const kind = socketTypeOf(command.subarray(6));
      if (kind !== "ROUTER") throw new ZmtpError(`A DEALER cannot talk to a "${kind}" socket`);
      dealer.#start = frame.end;
      return dealer;
    } catch (err) {
      await dealer.close();
      throw err;
    }
  }

  send(frames: readonly Uint8Array[]): Promise<void> {
    return this.#write(encode(frames));
  }

  /** The next whole message's frames, or undefined when none completed within `timeout_millis`. Throws
   * when the peer closed the connection or broke the framing. */
  async receive(timeout_millis: number): Promise<Uint8Array[] | undefined> {
    const deadline = Date.now() + timeout_millis;
    while (true) {
      const message = this.#take();
      if (message) return message;
      if (!await this.#fill(deadline)) return undefined;
    }
  }

  /** With `linger_millis`, what was sent gets that long to reach the peer: our side is shut for writing
   * and the peer's bytes are read until it closes (closing with unread bytes would reset the connection
   * and could drop our last message). */
  async close(linger_millis = 0): Promise<void> {
    try {
      if (linger_millis > 0) {
        await this.#conn.closeWrite();
        const deadline = Date.now() + linger_millis;
        while (await this.#fill(deadline)) this.#start = this.#end;
      }
    } catch {
      // Closed or reset by the peer: nothing left to wait for.
    } finally {
      try {
        this.#conn.close();
      } catch {
        // Already closed.
      }
      await this.#reading;
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** Cuts one whole data message out of the buffer, skipping commands (a 3.0 ROUTER sends none after
   * READY); undefined when the buffer holds only part of one. Frames are copies, so the buffer is reused. */
  #take(): Uint8Array[] | undefined {
    const frames: FrameHead[] = [];
    let at = this.#start;
    while (true) {
      const frame = nextFrame(this.#buf, at, this.#end);
      if (!frame) return undefined;
      at = frame.end;
      if (frame.flags & COMMAND) {
        if (frames.length > 0) throw new ZmtpError("The peer sent a command inside a message");
        this.#start = at;
        continue;
      }
      frames.push(frame);
      if (!(frame.flags & MORE)) break;
    }
    this.#start = at;
    return frames.map((f) => this.#buf.slice(f.body, f.end));
  }

  /** Waits until more bytes are in the buffer (true), or the deadline passes (false). */
  async #fill(deadline: number): Promise<boolean> {
    this.#reading ??= this.#conn.read(this.#chunk).catch((err: Error) => err);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
    });
    const result = await Promise.race([this.#reading, timeout]);
    clearTimeout(timer);
    if (result === "timeout") return false;
    this.#reading = undefined;
    if (result instanceof Error) throw result;
    if (result === null) throw new Deno.errors.ConnectionReset("The frontend closed the connection");
    this.#append(this.#chunk.subarray(0, result));
    return true;
  }

  async #fillBy(deadline: number, what: string): Promise<void> {
    if (!await this.#fill(deadline)) throw new ZmtpError(`The peer sent no ${what} in time`);
  }

  #append(bytes: Uint8Array): void {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end + bytes.length > this.#buf.length) {
      const pending = this.#end - this.#start;
      const size = Math.max(this.#buf.length, 2 ** Math.ceil(Math.log2(pending + bytes.length)));
      if (size > this.#buf.length) {
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = grown;
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = pending;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }
}
