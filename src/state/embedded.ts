/**
 * The embedded state backend: the configuration held in this process, so one machine needs nothing else.
 *
 * Not yet durable: state lives in memory and is lost on restart (a durable embedded store is the subject
 * of the state issue). Updates are atomic: `mutate` runs on a copy that replaces the state only if it
 * returns.
 */

import { emptyState, type StateBackend, type StateData } from "./store.ts";

export class EmbeddedBackend implements StateBackend {
  #data: StateData = emptyState();
  readonly #listeners = new Set<() => void>();

  read(): Promise<StateData> {
    return Promise.resolve(structuredClone(this.#data));
  }

  update<T>(mutate: (data: StateData) => T): Promise<T> {
    try {
      const copy = structuredClone(this.#data);
      const result = mutate(copy);
      this.#data = copy;
      for (const listener of this.#listeners) listener();
      return Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): Promise<void> {
    this.#listeners.clear();
    return Promise.resolve();
  }
}
