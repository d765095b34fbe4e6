/**
 * What every state backend shares: updates that run one at a time (each starts from what the previous
 * one committed) and the set of change listeners. Owns no state data.
 */

export class UpdateQueue {
  readonly #listeners = new Set<() => void>();
  #last: Promise<unknown> = Promise.resolve();

  /** Runs `task` after every earlier task has settled; a failure does not stop later tasks. */
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#last.then(task, task);
    this.#last = next.catch(() => {});
    return next;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.#listeners) listener();
  }

  /** Waits for pending tasks, then forgets every listener. */
  async drain(): Promise<void> {
    await this.#last;
    this.#listeners.clear();
  }
}
