/**
 * What each app's selection policy has learned, per user: the states in memory, the policy each app runs,
 * and their persistence through the state backend in batches. Feedback changes one user's state at a time,
 * far more often than configuration changes, so changed states are written together at most every
 * `flush_interval_millis` (and on close): a crash loses at most that interval's feedback.
 *
 * Owns the learned states and when they are written. Must not score feedback (the query API does, with
 * `src/policy/loss.ts`), choose routes (routing publishes the snapshots this gives it) or do the policies'
 * math (`src/policy`).
 */

import { parsePolicy, type PolicySpec } from "../policy/params.ts";
import { type Policy, policyFor } from "../policy/policy.ts";
import type { Rng } from "../policy/rng.ts";
import { type PolicyState, stateFor } from "../policy/state.ts";
import { DEFAULT_POLICY, type Learned, type LearnedBatch, type StateBackend } from "../state/store.ts";

/** An app's policy as configuration stores it. */
export interface AppPolicyRecord {
  readonly name: string;
  readonly policy: string;
  readonly policy_params: Readonly<Record<string, unknown>>;
}

/** The policy's name as the API shows it: the original's stored name of the default one reads "default". */
export function policyName(stored: string): string {
  return stored === DEFAULT_POLICY ? "default" : stored;
}

/** The name to store for a policy name the API took. */
export function storedPolicyName(name: string): string {
  return name === "default" ? DEFAULT_POLICY : name;
}

interface AppLearning {
  readonly spec: PolicySpec;
  readonly policy: Policy;
  readonly users: Map<string, PolicyState>;
}

export interface LearnedOptions {
  readonly flush_interval_millis?: number;
  /** Failures of a background flush (the next one retries what it could not write). */
  readonly on_flush_error?: (err: Error) => void;
}

type Backend = Pick<StateBackend, "loadLearned" | "saveLearned">;

export class LearnedStates {
  readonly #backend: Backend;
  readonly #rng: Rng;
  readonly #flush_interval_millis: number;
  readonly #on_flush_error: (err: Error) => void;
  #apps = new Map<string, AppLearning>();
  /** Loaded states of apps not configured yet (configuration and learned states load apart). */
  #loaded: Learned;
  #dirty: LearnedBatch = {};
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();

  private constructor(backend: Backend, rng: Rng, loaded: Learned, options: LearnedOptions) {
    this.#backend = backend;
    this.#rng = rng;
    this.#loaded = loaded;
    this.#flush_interval_millis = options.flush_interval_millis ?? 100;
    this.#on_flush_error = options.on_flush_error ??
      ((err) => console.error(`Cannot store what the policies learned: ${err.message}`));
  }

  static async open(backend: Backend, rng: Rng, options: LearnedOptions = {}): Promise<LearnedStates> {
    return new LearnedStates(backend, rng, await backend.loadLearned(), options);
  }

  /**
   * Follows configuration: each app's policy (a record that no longer parses runs the default policy and
   * says so), what it learned kept across policy changes, and an app that is gone forgotten.
   */
  configure(apps: readonly AppPolicyRecord[]): void {
    const next = new Map<string, AppLearning>();
    for (const app of apps) {
      let parsed = parsePolicy(policyName(app.policy), app.policy_params);
      if (!parsed.ok) {
        console.error(`Application "${app.name}" runs the default policy: ${parsed.message}`);
        parsed = parsePolicy("default", {});
      }
      if (!parsed.ok) throw new Error(parsed.message);
      const users = this.#apps.get(app.name)?.users ?? this.#fromLoaded(app.name);
      next.set(app.name, { spec: parsed, policy: policyFor(parsed), users });
    }
    for (const name of this.#apps.keys()) {
      if (!next.has(name)) this.#markDirty(name, null);
    }
    this.#apps = next;
  }

  #fromLoaded(app: string): Map<string, PolicyState> {
    const users = new Map(Object.entries(this.#loaded[app] ?? {}) as [string, PolicyState][]);
    delete this.#loaded[app];
    return users;
  }

  spec(app: string): PolicySpec | undefined {
    return this.#apps.get(app)?.spec;
  }

  policy(app: string): Policy | undefined {
    return this.#apps.get(app)?.policy;
  }

  /** `uid`'s state: its own, else the app's shared one (uid "0"), else a fresh one. */
  state(app: string, uid: string): PolicyState {
    return stateFor(this.#apps.get(app)?.users ?? new Map(), uid);
  }

  /** The uids with a state of their own, uid "0" among them once it learned. */
  users(app: string): string[] {
    return [...(this.#apps.get(app)?.users.keys() ?? [])];
  }

  /**
   * Folds one feedback into `uid`'s state (models: the app's members; losses: those scored) and schedules
   * its write; returns the new state.
   */
  learn(
    app: string,
    uid: string,
    models: readonly string[],
    losses: ReadonlyMap<string, number>,
  ): PolicyState {
    const learning = this.#apps.get(app);
    if (!learning) throw new Error(`No policy for application "${app}"`);
    const next = learning.policy.update(stateFor(learning.users, uid), models, losses, this.#rng);
    learning.users.set(uid, next);
    this.#markDirty(app, { [uid]: next });
    return next;
  }

  #markDirty(app: string, users: Record<string, unknown> | null): void {
    const pending = this.#dirty[app];
    this.#dirty[app] = users === null ? null : { ...(pending ?? {}), ...users };
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((err) => this.#on_flush_error(err as Error));
    }, this.#flush_interval_millis);
  }

  /** Writes every change made so far; resolves once they are stored. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.catch(() => {}).then(async () => {
      const batch = this.#dirty;
      if (Object.keys(batch).length === 0) return;
      this.#dirty = {};
      try {
        await this.#backend.saveLearned(batch);
      } catch (err) {
        // Keep what failed unless newer changes replaced it, for the next flush.
        for (const [app, users] of Object.entries(batch)) {
          const newer = this.#dirty[app];
          if (newer === null) continue;
          this.#dirty[app] = users === null ? null : { ...users, ...(newer ?? {}) };
        }
        throw err;
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
