/**
 * The embedded state backend: configuration held in this process, so one machine needs nothing else.
 *
 * With a state directory it is durable: every update is written to `state.json.tmp`, flushed to disk, and
 * renamed over `state.json` before the update is acknowledged, so a kill at any moment leaves either the
 * old or the new state, never half of one. A JSON snapshot suits this data: a few kilobytes, written only
 * by management calls, read whole at start-up; it needs no unstable Deno API (Deno KV) and no native
 * SQLite binding. Without a directory (unit tests) it lives in memory only.
 *
 * What selection policies learned goes to `learned.json` the same way, a batch at a time.
 */

import { parseLearned, parseState } from "./schema.ts";
import { UpdateQueue } from "./serial.ts";
import {
  emptyState,
  type Learned,
  type LearnedBatch,
  type StateBackend,
  type StateChange,
  type StateData,
  type StateListener,
} from "./store.ts";

const STATE_FILE = "state.json";
const LEARNED_FILE = "learned.json";

/** Reads and checks a state file; a missing file is an empty state, a bad one an error naming the key. */
async function load(path: string): Promise<StateData> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return emptyState();
    throw new Error(`Cannot read the state file "${path}": ${(err as Error).message}`);
  }
  return parseState(text, `the state file "${path}"`);
}

/** Writes `value` as JSON to `dir/name` so that a kill at any moment leaves the old file or the new one. */
/** Reads the learned states; a missing file is nothing learned, an unreadable one an error naming it. */
async function loadLearned(path: string): Promise<Learned> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new Error(`Cannot read the learned policy states "${path}": ${(err as Error).message}`);
  }
  return parseLearned(text, `the learned policy states "${path}"`);
}

async function writeDurably(dir: string, name: string, value: unknown): Promise<void> {
  const tmp = `${dir}/${name}.tmp`;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(value)));
    await file.syncData();
  } finally {
    file.close();
  }
  await Deno.rename(tmp, `${dir}/${name}`);
  // The rename itself must reach the disk too; a directory fsync is not possible everywhere.
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.syncData();
    } finally {
      handle.close();
    }
  } catch {
    // Best effort on platforms that refuse to sync a directory.
  }
}

export class EmbeddedBackend implements StateBackend {
  #data: StateData;
  #learned: Learned = {};
  readonly #dir: string | undefined;
  readonly #queue = new UpdateQueue();

  private constructor(data: StateData, dir: string | undefined) {
    this.#data = data;
    this.#dir = dir;
  }

  /** A backend that keeps state in `dir` (created if missing), or in memory only when `dir` is undefined. */
  static async open(dir?: string): Promise<EmbeddedBackend> {
    if (dir === undefined) return new EmbeddedBackend(emptyState(), undefined);
    await Deno.mkdir(dir, { recursive: true });
    const backend = new EmbeddedBackend(await load(`${dir}/${STATE_FILE}`), dir);
    backend.#learned = await loadLearned(`${dir}/${LEARNED_FILE}`);
    return backend;
  }

  loadLearned(): Promise<Learned> {
    return Promise.resolve(structuredClone(this.#learned));
  }

  saveLearned(batch: LearnedBatch): Promise<void> {
    return this.#queue.run(async () => {
      const next = { ...this.#learned };
      for (const [app, users] of Object.entries(batch)) {
        if (users === null) delete next[app];
        else next[app] = { ...next[app], ...users };
      }
      if (this.#dir !== undefined) await writeDurably(this.#dir, LEARNED_FILE, next);
      this.#learned = next;
    });
  }

  read(): Promise<StateData> {
    return Promise.resolve(structuredClone(this.#data));
  }

  update(mutate: (data: StateData) => StateChange): Promise<StateChange> {
    return this.#queue.run(async () => {
      const copy = structuredClone(this.#data);
      const change = mutate(copy);
      if (this.#dir !== undefined) await writeDurably(this.#dir, STATE_FILE, copy);
      this.#data = copy;
      this.#queue.notify(change);
      return change;
    });
  }

  subscribe(listener: StateListener): () => void {
    return this.#queue.subscribe(listener);
  }

  healthy(): boolean {
    return true;
  }

  close(): Promise<void> {
    return this.#queue.drain();
  }
}
