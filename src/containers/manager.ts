/**
 * The container manager: runs model replicas as local processes (the embedded default, no Docker), as
 * many per model version as the configuration asks. It starts and stops processes to match, restarts one
 * that exits on its own (with exponential backoff and a visible restart count), and writes each replica's
 * output to its own log file. Replicas get the original `CLIPPER_*` environment, so original Clipper
 * containers run under it too, and `CUDA_VISIBLE_DEVICES` when the plan pins them to a GPU.
 *
 * Owns processes only. Must not decide how many replicas there are (the configuration does, through
 * `reconcile`) nor talk to replicas (they connect to the serving core by themselves).
 */

import type { CoreInputType } from "../core/core.ts";
import { RotatingLog } from "./log_file.ts";

/** What one model version's replicas should be. */
export interface ReplicaSpec {
  readonly model_name: string;
  readonly model_version: string;
  readonly input_type: CoreInputType;
  readonly model_data_path: string;
  readonly command: readonly string[];
  readonly num_replicas: number;
  readonly gpus: readonly string[];
}

/** What the management API shows of a managed replica. */
export interface ManagedReplica {
  readonly model_name: string;
  readonly model_version: string;
  readonly replica: number;
  readonly pid: number | null;
  readonly running: boolean;
  readonly restarts: number;
  readonly gpu: string | null;
  readonly log_path: string;
}

export interface ManagerOptions {
  /** Where replicas connect: the serving core's RPC address. */
  readonly rpc_host: string;
  readonly rpc_port: number;
  readonly log_dir: string;
  /** Each replica's log rotates past this many bytes, keeping `log_files` files in all. */
  readonly log_max_bytes?: number;
  readonly log_files?: number;
  readonly restart_backoff_min_millis?: number;
  readonly restart_backoff_max_millis?: number;
}

const STOP_GRACE_MILLIS = 3_000;

class Replica {
  #child: Deno.ChildProcess | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;
  #exited: Promise<void> = Promise.resolve();
  readonly #log: RotatingLog;
  restarts = 0;

  constructor(
    readonly spec: ReplicaSpec,
    readonly index: number,
    readonly fingerprint: string,
    private readonly options: Required<ManagerOptions>,
  ) {
    this.#log = new RotatingLog(this.log_path, options.log_max_bytes, options.log_files);
  }

  get gpu(): string | null {
    return this.spec.gpus.length === 0 ? null : this.spec.gpus[this.index % this.spec.gpus.length]!;
  }

  get log_path(): string {
    return `${this.options.log_dir}/${this.spec.model_name}-${this.spec.model_version}-${this.index}.log`;
  }

  view(): ManagedReplica {
    return {
      model_name: this.spec.model_name,
      model_version: this.spec.model_version,
      replica: this.index,
      pid: this.#child?.pid ?? null,
      running: this.#child !== undefined,
      restarts: this.restarts,
      gpu: this.gpu,
      log_path: this.log_path,
    };
  }

  start(): void {
    if (this.#stopping) return;
    const [program, ...args] = this.spec.command;
    const env: Record<string, string> = {
      CLIPPER_MODEL_NAME: this.spec.model_name,
      CLIPPER_MODEL_VERSION: this.spec.model_version,
      CLIPPER_INPUT_TYPE: this.spec.input_type,
      CLIPPER_IP: this.options.rpc_host,
      CLIPPER_PORT: String(this.options.rpc_port),
      CLIPPER_MODEL_PATH: this.spec.model_data_path,
      // Our containers announce it, so the core's log and get_model_replicas number this replica alike.
      CLIPPER_REPLICA: String(this.index),
      PYTHONUNBUFFERED: "1",
    };
    if (this.gpu !== null) env.CUDA_VISIBLE_DEVICES = this.gpu;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program!, { args, env, stdin: "null", stdout: "piped", stderr: "piped" })
        .spawn();
    } catch (err) {
      this.#appendLog(
        `clipper: cannot start ${JSON.stringify(this.spec.command)}: ${(err as Error).message}\n`,
      );
      this.#scheduleRestart();
      return;
    }
    this.#child = child;
    const logged = Promise.all([this.#pipe(child.stdout), this.#pipe(child.stderr)]);
    this.#exited = (async () => {
      const status = await child.status;
      await logged;
      this.#child = undefined;
      if (this.#stopping) return;
      this.#appendLog(`clipper: replica exited with code ${status.code}; restarting\n`);
      this.#scheduleRestart();
    })();
  }

  #scheduleRestart(): void {
    this.restarts += 1;
    const { restart_backoff_min_millis: min, restart_backoff_max_millis: max } = this.options;
    const delay = Math.min(max, min * 2 ** Math.min(this.restarts - 1, 20));
    this.#timer = setTimeout(() => this.start(), delay);
  }

  async #pipe(stream: ReadableStream<Uint8Array>): Promise<void> {
    for await (const chunk of stream) this.#write(chunk);
  }

  #appendLog(line: string): void {
    this.#write(new TextEncoder().encode(line));
  }

  #write(data: Uint8Array): void {
    try {
      this.#log.write(data);
    } catch {
      // The log directory vanished; the restart count still tells the story.
    }
  }

  /** Stops the process: SIGTERM, then SIGKILL after a grace period. No restart follows. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    const child = this.#child;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const killer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, STOP_GRACE_MILLIS);
      await this.#exited;
      clearTimeout(killer);
    }
  }
}

export class ContainerManager {
  readonly #options: Required<ManagerOptions>;
  /** Keyed by `name:version:index`. */
  readonly #replicas = new Map<string, Replica>();

  private constructor(options: Required<ManagerOptions>) {
    this.#options = options;
  }

  static async create(options: ManagerOptions): Promise<ContainerManager> {
    await Deno.mkdir(options.log_dir, { recursive: true });
    return new ContainerManager({
      restart_backoff_min_millis: 250,
      restart_backoff_max_millis: 10_000,
      log_max_bytes: 10 * 1024 * 1024,
      log_files: 3,
      ...options,
    });
  }

  /** Starts and stops processes so that exactly `specs` run; a replica whose spec changed is replaced. */
  async reconcile(specs: readonly ReplicaSpec[]): Promise<void> {
    const wanted = new Map<string, [ReplicaSpec, number, string]>();
    for (const spec of specs) {
      const fingerprint = JSON.stringify([spec.command, spec.input_type, spec.model_data_path, spec.gpus]);
      for (let i = 0; i < spec.num_replicas; i++) {
        wanted.set(`${spec.model_name}:${spec.model_version}:${i}`, [spec, i, fingerprint]);
      }
    }
    const stopping: Promise<void>[] = [];
    for (const [key, replica] of this.#replicas) {
      if (wanted.get(key)?.[2] !== replica.fingerprint) {
        this.#replicas.delete(key);
        stopping.push(replica.stop());
      }
    }
    await Promise.all(stopping);
    for (const [key, [spec, index, fingerprint]] of wanted) {
      if (this.#replicas.has(key)) continue;
      const replica = new Replica(spec, index, fingerprint, this.#options);
      this.#replicas.set(key, replica);
      replica.start();
    }
  }

  list(): ManagedReplica[] {
    return [...this.#replicas.values()].map((r) => r.view());
  }

  /** The log file of replica `index` of `name:version`, if it is managed. */
  logPath(name: string, version: string, index: number): string | undefined {
    return this.#replicas.get(`${name}:${version}:${index}`)?.log_path;
  }

  async stopAll(): Promise<void> {
    await this.reconcile([]);
  }
}
