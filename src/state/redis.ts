/**
 * The Redis state backend, for several frontends sharing one configuration (`--redis redis://host:port/db`).
 * Client: the `redis` package from npm (deno-redis is published only where this project cannot reach).
 *
 * The whole configuration is one JSON value at one key, so every write is atomic and no reader can see half
 * an app. Writes are optimistic: WATCH the key, apply the rules to what it holds, then MULTI/EXEC the new
 * value with a PUBLISH on the change channel. When two frontends race, the loser's transaction aborts and
 * its rules run again on the winner's state (so adding the same app twice gives exactly one success).
 *
 * While Redis is unreachable, reads serve the last state seen, writes fail at once with
 * `state_unavailable` (503), and the client reconnects with backoff; on reconnection every subscriber is
 * told to reload, so the frontend catches up with what changed meanwhile. A Redis that comes back without
 * the configuration (restarted with persistence off) gets it written back by the frontends that hold it
 * (`#restore`), so an acknowledged write is never forgotten because Redis was.
 */

import { createClient } from "redis";
import { ClipperError } from "../errors.ts";
import { parseState } from "./schema.ts";
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

const MAX_ATTEMPTS = 20;
const EMPTY = JSON.stringify(emptyState());
const CONNECT_TIMEOUT_MILLIS = 5_000;

type Client = ReturnType<typeof createClient>;

export class RedisBackend implements StateBackend {
  readonly #url: string;
  readonly #key: string;
  readonly #learnedPrefix: string;
  readonly #channel: string;
  readonly #writer: Client;
  readonly #subscriber: Client;
  readonly #queue = new UpdateQueue();
  /** Tags this backend's announcements, so it does not hear its own writes twice. */
  readonly #origin = crypto.randomUUID();
  #cache: StateData = emptyState();
  #wasDown = false;

  private constructor(url: string, prefix: string) {
    this.#url = url;
    this.#key = `${prefix}state`;
    this.#learnedPrefix = `${prefix}learned:`;
    this.#channel = `${prefix}changes`;
    this.#writer = createClient({
      url,
      disableOfflineQueue: true,
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MILLIS,
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000),
      },
    });
    this.#subscriber = this.#writer.duplicate();
    for (const client of [this.#writer, this.#subscriber]) {
      client.on("error", (err: Error) => {
        if (!this.#wasDown) console.error(`Lost Redis at "${url}": ${err.message}; retrying`);
        this.#wasDown = true;
      });
    }
    this.#writer.on("ready", () => {
      if (!this.#wasDown) return;
      this.#wasDown = false;
      console.error(`Reconnected to Redis at "${url}"`);
      this.#notify();
    });
  }

  /** Connects to `url`; keys and the change channel start with `prefix`. */
  static async open(url: string, prefix = "clipper:"): Promise<RedisBackend> {
    const backend = new RedisBackend(url, prefix);
    const connect = Promise.all([backend.#writer.connect(), backend.#subscriber.connect()]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Cannot connect to Redis at "${url}" within ${CONNECT_TIMEOUT_MILLIS} ms`)),
        CONNECT_TIMEOUT_MILLIS,
      );
    });
    try {
      await Promise.race([connect, timeout]);
      await backend.#subscriber.subscribe(backend.#channel, (origin: string) => {
        if (origin !== backend.#origin) backend.#notify();
      });
      backend.#cache = await backend.#fetch();
    } catch (err) {
      backend.#disconnect();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return backend;
  }

  healthy(): boolean {
    return this.#writer.isReady;
  }

  /** Each app's learned states are one hash, `<prefix>learned:<app>`, a field per uid. */
  #learnedKey(app: string): string {
    return `${this.#learnedPrefix}${app}`;
  }

  async loadLearned(): Promise<Learned> {
    const learned: Learned = {};
    for (const app of Object.keys(this.#cache.apps)) {
      const fields = await this.#writer.hGetAll(this.#learnedKey(app));
      const users: Record<string, unknown> = {};
      for (const [uid, text] of Object.entries(fields)) {
        try {
          users[uid] = JSON.parse(text);
        } catch (err) {
          throw new Error(
            `Cannot read Redis hash "${this.#learnedKey(app)}": field "${uid}" is not JSON (${
              (err as Error).message
            })`,
          );
        }
      }
      if (Object.keys(users).length > 0) learned[app] = users;
    }
    return learned;
  }

  async saveLearned(batch: LearnedBatch): Promise<void> {
    if (!this.healthy()) throw this.#unavailable("store what policies learned", new Error("not connected"));
    const multi = this.#writer.multi();
    for (const [app, users] of Object.entries(batch)) {
      if (users === null) multi.del(this.#learnedKey(app));
      else {
        for (const [uid, state] of Object.entries(users)) {
          multi.hSet(this.#learnedKey(app), uid, JSON.stringify(state));
        }
      }
    }
    await multi.exec();
  }

  async #fetch(): Promise<StateData> {
    const text = await this.#writer.get(this.#key);
    if (text !== null) return parseState(text, `Redis key "${this.#key}"`);
    // Every write sets the key, so a missing key while this frontend holds a configuration means Redis lost
    // it (restarted without persistence, say): following it would forget acknowledged writes.
    return JSON.stringify(this.#cache) === EMPTY ? emptyState() : await this.#restore();
  }

  /**
   * Writes back the configuration this frontend holds. SET NX makes one frontend of several the restorer;
   * the others find its value there and adopt it. What the policies learned is not written back: it is
   * batched soft state, and the policies start again from their priors.
   */
  async #restore(): Promise<StateData> {
    const held = JSON.stringify(this.#cache);
    if (await this.#writer.set(this.#key, held, { NX: true }) === null) {
      const text = await this.#writer.get(this.#key);
      if (text !== null) return parseState(text, `Redis key "${this.#key}"`);
    }
    console.error(
      `WARNING: Redis at "${this.#url}" lost the configuration (restarted without persistence?); ` +
        `restored the one this frontend holds (${Object.keys(this.#cache.apps).length} applications, ` +
        `${Object.keys(this.#cache.versions).length} model versions)`,
    );
    await this.#writer.publish(this.#channel, this.#origin);
    return structuredClone(this.#cache);
  }

  /** Another frontend changed the store, or this one missed changes while disconnected. */
  #notify(): void {
    this.#queue.notify({ kind: "resync" });
  }

  #unavailable(action: string, err: unknown): ClipperError {
    return new ClipperError(
      "state_unavailable",
      `Cannot ${action}: Redis at "${this.#url}" is unavailable (${(err as Error).message})`,
    );
  }

  async read(): Promise<StateData> {
    if (this.healthy()) {
      try {
        this.#cache = await this.#fetch();
      } catch (err) {
        if (err instanceof Error && err.message.startsWith("Cannot read")) throw err;
        // Unreachable mid-read: serve the last state seen.
      }
    }
    return structuredClone(this.#cache);
  }

  update(mutate: (data: StateData) => StateChange): Promise<StateChange> {
    return this.#queue.run(async (): Promise<StateChange> => {
      if (!this.healthy()) throw this.#unavailable("change the configuration", new Error("not connected"));
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        let data: StateData;
        let change: StateChange;
        try {
          await this.#writer.watch(this.#key);
          data = await this.#fetch();
        } catch (err) {
          if (err instanceof Error && err.message.startsWith("Cannot read")) throw err;
          throw this.#unavailable("change the configuration", err);
        }
        try {
          change = mutate(data);
        } catch (err) {
          await this.#writer.unwatch().catch(() => {});
          throw err;
        }
        try {
          await this.#writer.multi().set(this.#key, JSON.stringify(data)).publish(this.#channel, this.#origin)
            .exec();
        } catch (err) {
          // node-redis signals an aborted transaction with a WatchError (whose `name` is plain "Error").
          if ((err as Error).constructor.name === "WatchError") continue;
          throw this.#unavailable("change the configuration", err);
        }
        this.#cache = data;
        this.#queue.notify(change);
        return change;
      }
      throw this.#unavailable(
        "change the configuration",
        new Error(`${MAX_ATTEMPTS} conflicting writes in a row`),
      );
    });
  }

  subscribe(listener: StateListener): () => void {
    return this.#queue.subscribe(listener);
  }

  #disconnect(): void {
    for (const client of [this.#subscriber, this.#writer]) {
      try {
        if (client.isOpen) client.destroy();
      } catch {
        // Already closed.
      }
    }
  }

  async close(): Promise<void> {
    await this.#queue.drain();
    this.#disconnect();
  }
}
