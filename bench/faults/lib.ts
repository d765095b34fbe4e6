/**
 * What every fault scenario shares: a frontend on free loopback ports (restartable on the same state dir),
 * model containers, a predict load whose every query carries a unique input, a stream of management
 * writes, and the row a scenario reports. Owns counting answers; must not inject faults (each scenario does).
 *
 * Counting, per query (input `[i]`, `i` unique in the run, to the `sum` model, whose answer is `i`):
 * - answered by a model: 200, `default: false`, output equal to the query's own sum;
 * - answered by default: 200, `default: true` (the app's default output, an accepted degraded answer);
 * - lost: no answer by the deadline (the app's SLO + 50 ms), a refused connection, or a non-200 status;
 * - answered twice: on the client side, an answer carrying another query's result (a model output that is
 *   not the query's own sum) or a `query_id` already seen in another answer (over HTTP one request gets
 *   one response, so a duplicate can only show there as a misdelivered or reused answer); on the container
 *   side, where a second answer can happen (a batch retried on another replica), an input that the
 *   recording containers (bench/faults/recording_sum.py) answered more than once. Both are added up.
 */

import { freePort, spawn, type Started, stop, waitUntil } from "../lib/processes.ts";
import { frontendArgs } from "../lib/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
export const PYTHON = `${root}.venv/bin/python`;
/** The app's SLO; a query's deadline is this + 50 ms. */
export const SLO_MILLIS = 1000;
export const DEADLINE_MILLIS = SLO_MILLIS + 50;

export interface Row {
  readonly scenario: string;
  readonly queries_sent: number;
  readonly answered_by_model: number;
  readonly answered_by_default: number;
  readonly lost: number;
  readonly answered_twice: number;
  readonly writes_acknowledged: number;
  readonly writes_lost: number;
  /** From the fault to the service answering normally again; null when it never did. */
  readonly recover_millis: number | null;
  /** What the row cannot show by itself (e.g. a known gap), printed under the table. */
  readonly note?: string;
  /** The most defaults the fault may cost (e.g. the queries in flight on a killed replica); absent: any. */
  readonly defaults_allowed?: number;
}

export class Frontend {
  private constructor(
    readonly query_url: string,
    readonly admin_url: string,
    readonly rpc_port: number,
    readonly state_dir: string,
    readonly process: Started,
  ) {}

  /** Starts `src/main.ts` on free ports (the RPC port given to keep containers reconnecting to it). */
  static async start(
    log_dir: string,
    options: { state_dir?: string; extra_args?: string[]; rpc_port?: number } = {},
  ): Promise<Frontend> {
    const state_dir = options.state_dir ?? await Deno.makeTempDir({ prefix: "clipper-faults-" });
    const [query, admin, rpc] = [freePort(), freePort(), options.rpc_port ?? freePort()];
    const process = await spawn("frontend", Deno.execPath(), [
      ...frontendArgs(root, { query, admin, rpc }, state_dir),
      ...(options.extra_args ?? []),
    ], { log_path: `${log_dir}/frontend.log`, cwd: root });
    const f = new Frontend(
      `http://127.0.0.1:${query}`,
      `http://127.0.0.1:${admin}/admin`,
      rpc,
      state_dir,
      process,
    );
    await waitUntil("the frontend", async () => (await f.admin("ping", {})).status === 200, 60_000);
    return f;
  }

  async admin(endpoint: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const r = await fetch(`${this.admin_url}/${endpoint}`, {
      method: endpoint === "ping" ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      body: endpoint === "ping" ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // plain text ("Success!", "PONG")
    }
    return { status: r.status, body: parsed };
  }

  /** App "a" (doubles, default "-1") linked to model `model` version 1. */
  async deploy(app = "a", model = "sum", input_type = "doubles"): Promise<void> {
    const steps: [string, unknown][] = [
      ["add_app", { name: app, input_type, default_output: "-1", latency_slo_micros: SLO_MILLIS * 1000 }],
      ["add_model", {
        model_name: model,
        model_version: "1",
        labels: [],
        input_type,
        container_name: "faults",
        model_data_path: "/tmp",
        batch_size: -1,
      }],
      ["add_model_links", { app_name: app, model_names: [model] }],
    ];
    for (const [endpoint, body] of steps) {
      const r = await this.admin(endpoint, body);
      if (r.status !== 200) throw new Error(`${endpoint} answered ${r.status}: ${JSON.stringify(r.body)}`);
    }
  }

  async apps(): Promise<Set<string>> {
    const r = await this.admin("get_all_applications", { verbose: false });
    return new Set(r.body as string[]);
  }

  async replicas(): Promise<number> {
    const r = await fetch(`${this.query_url}/health`);
    return ((await r.json()) as { connected_replicas: number }).connected_replicas;
  }

  /** SIGKILL, as a crash or an out-of-memory kill would. */
  async kill(): Promise<void> {
    try {
      this.process.child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.process.child.status;
    await stop(this.process);
  }
}

/**
 * Starts a container for `model` against `rpc_port`: `-m module`, a `.py` in tests/containers (or a path
 * from the repository root), or a `.ts` (a path from the repository root).
 */
export function startContainer(
  log_dir: string,
  name: string,
  rpc_port: number,
  target: string,
  options: { model?: string; input_type?: string; args?: string[] } = {},
): Promise<Started> {
  const [cmd, script] = target.endsWith(".ts")
    ? [Deno.execPath(), ["run", "--allow-all", `${root}${target}`]]
    : target.endsWith(".py")
    ? [PYTHON, [target.includes("/") ? `${root}${target}` : `${root}tests/containers/${target}`]]
    : [PYTHON, ["-m", target]];
  return spawn(name, cmd, [...script, ...(options.args ?? [])], {
    log_path: `${log_dir}/${name}.log`,
    env: {
      CLIPPER_MODEL_NAME: options.model ?? "sum",
      CLIPPER_MODEL_VERSION: "1",
      CLIPPER_INPUT_TYPE: options.input_type ?? "doubles",
      CLIPPER_IP: "127.0.0.1",
      CLIPPER_PORT: String(rpc_port),
      PYTHONUNBUFFERED: "1",
    },
  });
}

/** Waits until `count` replicas are connected and the app answers from a model. */
export async function waitServing(f: Frontend, count: number, input: unknown = [0.5]): Promise<void> {
  await waitUntil(`${count} replica(s)`, async () => (await f.replicas()) >= count, 60_000);
  await waitUntil("a model answer", async () => {
    const r = await fetch(`${f.query_url}/a/predict`, { method: "POST", body: JSON.stringify({ input }) });
    return (await r.text()).includes('"default":false');
  }, 60_000);
}

type Outcome = "model" | "default" | "lost" | "twice";

/** One query's input and the model output that answers it (as the JSON answer prints it). */
export interface Query {
  readonly input: unknown;
  readonly expect: string;
}

/** `[i]` to the `sum` model, which answers `i` (a float, printed as JSON prints it). */
export const sumQuery = (i: number): Query => ({ input: [i], expect: String(i) });

/**
 * A closed-loop predict load: `concurrency` clients each send one query at a time, each with a unique
 * input, until `stop()`. The target URL is read per query, so a restarted frontend is followed.
 */
export class Load {
  private next = 1;
  private running = true;
  private readonly seen_ids = new Set<number>();
  readonly counts: Record<Outcome, number> = { model: 0, default: 0, lost: 0, twice: 0 };
  /** Send time and outcome of each query, for the time to recover. */
  private readonly log: { sent: number; done: number; outcome: Outcome }[] = [];
  private readonly clients: Promise<void>[];

  constructor(
    private readonly url: () => string,
    concurrency: number,
    app = "a",
    private readonly make: (i: number) => Query = sumQuery,
  ) {
    this.clients = Array.from({ length: concurrency }, () => this.client(app));
  }

  private async client(app: string): Promise<void> {
    while (this.running) {
      const i = this.next++;
      const sent = performance.now();
      const outcome = await this.query(app, i);
      this.counts[outcome]++;
      this.log.push({ sent, done: performance.now(), outcome });
      // A refused connection returns at once; don't spin on it.
      if (outcome === "lost") await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async query(app: string, i: number): Promise<Outcome> {
    try {
      const q = this.make(i);
      const r = await fetch(`${this.url()}/${app}/predict`, {
        method: "POST",
        body: JSON.stringify({ input: q.input }),
        signal: AbortSignal.timeout(DEADLINE_MILLIS),
      });
      const text = await r.text();
      if (r.status !== 200) return "lost";
      const body = JSON.parse(text) as { output: unknown; default: boolean; query_id: number };
      if (this.seen_ids.has(body.query_id)) return "twice";
      this.seen_ids.add(body.query_id);
      if (body.default) return "default";
      return String(body.output) === q.expect ? "model" : "twice";
    } catch {
      return "lost";
    }
  }

  get sent(): number {
    return this.next - 1;
  }

  /** Stops sending and waits for the queries in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.clients);
  }

  /**
   * Milliseconds from `fault` (a `performance.now()`) until the first model answer to a query sent after
   * the last query that was not answered by a model; 0 when every query after the fault was.
   */
  recoverMillis(fault: number): number | null {
    const after = this.log.filter((q) => q.sent >= fault);
    const bad = after.filter((q) => q.outcome !== "model");
    if (bad.length === 0) return 0;
    const last_bad = Math.max(...bad.map((q) => q.sent));
    const good = after.filter((q) => q.outcome === "model" && q.sent > last_bad);
    if (good.length === 0) return null;
    return Math.min(...good.map((q) => q.done)) - fault;
  }
}

/**
 * Sequential `add_app` writes named `<prefix><n>` until `stop()`; each acknowledged (200) name is kept, so a
 * scenario can check every one is still there after its fault.
 */
export class Writes {
  readonly acknowledged: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly frontend: () => Frontend, prefix = "w") {
    this.loop = (async () => {
      for (let n = 0; this.running; n++) {
        const name = `${prefix}${n}`;
        try {
          const r = await this.frontend().admin("add_app", {
            name,
            input_type: "doubles",
            default_output: "-1",
            latency_slo_micros: 100_000,
          });
          if (r.status === 200) this.acknowledged.push(name);
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // down: not acknowledged
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Acknowledged writes the frontend no longer lists. */
  async lost(f: Frontend): Promise<number> {
    const apps = await f.apps();
    return this.acknowledged.filter((a) => !apps.has(a)).length;
  }
}

export function sleep(millis: number): Promise<void> {
  return new Promise((r) => setTimeout(r, millis));
}

/** A row from a load (absent: no queries) and what else the scenario measured. */
export function row(
  scenario: string,
  load: Load | null,
  measured: {
    recover_millis: number | null;
    writes?: { acknowledged: number; lost: number };
    /** From `Recorder.answeredTwice`. */
    container_answered_twice?: number;
    note?: string;
    defaults_allowed?: number;
  },
): Row {
  return {
    scenario,
    queries_sent: load?.sent ?? 0,
    answered_by_model: load?.counts.model ?? 0,
    answered_by_default: load?.counts.default ?? 0,
    lost: load?.counts.lost ?? 0,
    answered_twice: (load?.counts.twice ?? 0) + (measured.container_answered_twice ?? 0),
    writes_acknowledged: measured.writes?.acknowledged ?? 0,
    writes_lost: measured.writes?.lost ?? 0,
    recover_millis: measured.recover_millis,
    note: measured.note,
    defaults_allowed: measured.defaults_allowed,
  };
}

/** Options every scenario takes: how long the load runs around the fault, and where logs go. */
export interface ScenarioOptions {
  readonly duration_millis: number;
  readonly log_dir: string;
}

/** The recording sum model: its containers append each input they answer to files under `log_dir`. */
export class Recorder {
  private n = 0;
  constructor(private readonly log_dir: string) {}

  /** Starts one more recording container (`delay_seconds` per batch). */
  start(rpc_port: number, delay_seconds = 0): Promise<Started> {
    const name = `recording-${this.n++}`;
    return startContainer(this.log_dir, name, rpc_port, "bench/faults/recording_sum.py", {
      args: [`${this.log_dir}/${name}.answers`, String(delay_seconds)],
    });
  }

  /** Inputs answered by the recording containers more than once (each extra answer counts). */
  async answeredTwice(): Promise<number> {
    const seen = new Set<string>();
    let twice = 0;
    for (let i = 0; i < this.n; i++) {
      const text = await Deno.readTextFile(`${this.log_dir}/recording-${i}.answers`).catch(() => "");
      for (const line of text.split("\n")) {
        if (line === "" || line === "0.5") continue; // 0.5: waitServing's probe, sent until answered
        if (seen.has(line)) twice++;
        else seen.add(line);
      }
    }
    return twice;
  }
}

/** A frontend serving the recording model under steady load for a third of the scenario: where a fault on
 * the query port begins (`fault`, a `performance.now()` time; `port`, the query port). */
export async function queryPortUnderLoad(
  o: ScenarioOptions,
): Promise<{ f: Frontend; recorder: Recorder; load: Load; fault: number; port: number }> {
  const f = await Frontend.start(o.log_dir);
  await f.deploy();
  const recorder = new Recorder(o.log_dir);
  await recorder.start(f.rpc_port);
  await waitServing(f, 1);
  const load = new Load(() => f.query_url, 8);
  await sleep(o.duration_millis / 3);
  return { f, recorder, load, fault: performance.now(), port: Number(new URL(f.query_url).port) };
}
