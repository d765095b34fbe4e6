/**
 * What every state backend shares: updates that run one at a time (each starts from what the previous
 * one committed) and the set of change listeners. Owns no state data and no rules.
 */

import type { StateChange, StateListener } from "./store.ts";

export class UpdateQueue {
  readonly #listeners = new Set<StateListener>();
  #last: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every earlier task has settled; a failure does not stop later tasks. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#last.then(task, task);
    this.#last = next.catch(() => {});
    return next;
  }

  subscribe(listener: StateListener): () => void {
    // A wrapper, so subscribing the same function twice gives two independent subscriptions.
    const entry: StateListener = (change) => listener(change);
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  /** Tells every listener about `change`; a listener that throws is reported and does not stop the rest. */
  notify(change: StateChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (err) {
        console.error(`A state change listener failed on "${change.kind}": ${(err as Error).message}`);
      }
    }
  }

  /** Waits for pending tasks, then forgets every listener. */
  async drain(): Promise<void> {
    await this.#last;
    this.#listeners.clear();
  }
}
