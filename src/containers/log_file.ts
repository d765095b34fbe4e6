/**
 * A replica's log file with a size bound: `x.log` takes writes until the next one would pass `max_bytes`,
 * then becomes `x.log.1` (the older ones `x.log.2`, ... up to `files - 1`, the oldest dropped) and a new
 * `x.log` begins. `readLogTail` reads across the rotation, oldest first.
 *
 * Owns the files of one log; must not know about processes. Writes are synchronous and so never interleave
 * (a replica's stdout and stderr share the file); a replica's log lines are few next to its answers.
 */

export class RotatingLog {
  #size: number;

  constructor(readonly path: string, readonly max_bytes: number, readonly files: number) {
    try {
      this.#size = Deno.statSync(path).size;
    } catch {
      this.#size = 0;
    }
  }

  /** Appends `data`, rotating first when it would pass the bound; a chunk larger than it gets a file alone. */
  write(data: Uint8Array): void {
    if (this.#size > 0 && this.#size + data.length > this.max_bytes) this.#rotate();
    Deno.writeFileSync(this.path, data, { append: true, create: true });
    this.#size += data.length;
  }

  #rotate(): void {
    for (let i = this.files - 1; i >= 1; i--) {
      const from = i === 1 ? this.path : `${this.path}.${i - 1}`;
      try {
        Deno.renameSync(from, `${this.path}.${i}`);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      }
    }
    // With one file kept, the bound is kept by starting it again.
    if (this.files <= 1) Deno.removeSync(this.path);
    this.#size = 0;
  }
}

/** The last `max_bytes` of the log at `path` and its rotated files (`path.1`, `path.2`, ...), oldest first. */
export async function readLogTail(path: string, max_bytes: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  // Newest first, until the tail is full or the files run out.
  for (let i = 0; total < max_bytes; i++) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(i === 0 ? path : `${path}.${i}`, { read: true });
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) break;
      throw err;
    }
    try {
      const size = (await file.stat()).size;
      const take = Math.min(size, max_bytes - total);
      await file.seek(size - take, Deno.SeekMode.Start);
      const part = new Uint8Array(take);
      let read = 0;
      while (read < take) {
        const n = await file.read(part.subarray(read));
        if (n === null) break;
        read += n;
      }
      parts.unshift(part.subarray(0, read));
      total += read;
    } finally {
      file.close();
    }
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
