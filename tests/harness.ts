/**
 * Integration-test harness: starts the real server (`src/main.ts`) and real Python model containers as
 * child processes on loopback ports chosen free at test time, and stops every process it started.
 * Waiting is bounded polling of real endpoints, never a fixed sleep.
 */

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Polls `check` every 25 ms until it returns a value, or throws after `timeout_millis`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeout_millis = 15_000,
): Promise<T> {
  const until = Date.now() + timeout_millis;
  while (Date.now() < until) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch {
      // Not ready yet.
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`Timed out after ${timeout_millis} ms waiting for ${what}`);
}

export interface JsonResponse {
  status: number;
  body: unknown;
  text: string;
}

async function request(url: string, init?: RequestInit, client?: Deno.HttpClient): Promise<JsonResponse> {
  const res = await fetch(url, { ...init, client });
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Plain-text answers (the original's "Success!", "PONG") stay in `text`.
  }
  return { status: res.status, body, text };
}

export class Server {
  private constructor(
    readonly query_url: string,
    readonly admin_url: string,
    readonly rpc_port: number,
    private readonly child: Deno.ChildProcess,
    readonly state_dir: string,
    /** Trusts the test's certificate authority when the server speaks HTTPS. */
    readonly client?: Deno.HttpClient,
  ) {}

  /**
   * Starts a server; `state_dir` defaults to a fresh temporary directory. Ports are picked free just
   * before the start, and another process can take one in between (an outgoing connection's local port):
   * a server that exits before answering is started again on fresh ports. With `ca_pem`, the server was
   * given `--tls-cert`/`--tls-key` in `extra_args` and is spoken to over HTTPS trusting that certificate.
   */
  static async start(extra_args: string[] = [], state_dir?: string, ca_pem?: string): Promise<Server> {
    const dir = state_dir ?? await Deno.makeTempDir({ prefix: "clipper-state-" });
    for (let attempt = 1;; attempt++) {
      const server = Server.#spawn(extra_args, dir, ca_pem);
      let exited = false;
      server.child.status.then(() => exited = true);
      const until = Date.now() + 15_000;
      while (!exited && Date.now() < until) {
        try {
          if ((await request(`${server.admin_url}/admin/ping`, {}, server.client)).status === 200) {
            return server;
          }
        } catch {
          // Not listening yet.
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      await server.stop();
      if (!exited || attempt === 3) {
        throw new Error(`The server did not answer /admin/ping (attempt ${attempt}, exited: ${exited})`);
      }
    }
  }

  static #spawn(extra_args: string[], dir: string, ca_pem?: string): Server {
    const [query, admin, rpc] = [freePort(), freePort(), freePort()];
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `${root}src/main.ts`,
        "--query-port",
        String(query),
        "--admin-port",
        String(admin),
        "--rpc-port",
        String(rpc),
        "--state-dir",
        dir,
        ...extra_args,
      ],
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    const scheme = ca_pem === undefined ? "http" : "https";
    const client = ca_pem === undefined ? undefined : Deno.createHttpClient({ caCerts: [ca_pem] });
    return new Server(
      `${scheme}://127.0.0.1:${query}`,
      `${scheme}://127.0.0.1:${admin}`,
      rpc,
      child,
      dir,
      client,
    );
  }

  admin(endpoint: string, body: unknown): Promise<JsonResponse> {
    return request(`${this.admin_url}/admin/${endpoint}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }, this.client);
  }

  /** Registers an app, a model version and the link between them; fails the test on any refusal. */
  async deploy(
    app: string,
    model: string,
    input_type: string,
    options: { version?: string; slo_micros?: number; batch_size?: number; default_output?: string } = {},
  ) {
    const steps: [string, unknown][] = [
      ["add_app", {
        name: app,
        input_type,
        default_output: options.default_output ?? "-1",
        latency_slo_micros: options.slo_micros ?? 2_000_000,
      }],
      ["add_model", {
        model_name: model,
        model_version: options.version ?? "1",
        labels: [],
        input_type,
        container_name: "test",
        model_data_path: "/tmp",
        batch_size: options.batch_size ?? -1,
      }],
      ["add_model_links", { app_name: app, model_names: [model] }],
    ];
    for (const [endpoint, body] of steps) {
      const r = await this.admin(endpoint, body);
      if (r.status !== 200) throw new Error(`${endpoint} answered ${r.status}: ${r.text}`);
    }
  }

  predict(app: string, body: unknown): Promise<JsonResponse> {
    return request(`${this.query_url}/${app}/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }, this.client);
  }

  get(path: string): Promise<JsonResponse> {
    return request(`${this.query_url}${path}`, {}, this.client);
  }

  /** Waits until `count` replicas of `model` are connected (longer for models that train at start). */
  async waitForReplicas(model: string, count = 1, timeout_millis?: number): Promise<void> {
    await waitFor(`${count} replica(s) of "${model}"`, async () => {
      const r = await this.admin("get_all_containers", { verbose: true });
      const list = r.body as { model_name: string }[];
      return list.filter((c) => c.model_name === model).length >= count ? true : undefined;
    }, timeout_millis);
  }

  /** Ends the server abruptly (SIGKILL), as a crash or an out-of-memory kill would. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
  }

  /** Sends `signal` to the server process. */
  signal(signal: Deno.Signal): void {
    this.child.kill(signal);
  }

  /** The server process's id. */
  get pid(): number {
    return this.child.pid;
  }

  /** How the server process exited, once it has. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.child.status;
  }

  /** Sends SIGTERM (at once, before the first await) and returns how the process exited. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const status = await this.child.status;
    this.client?.close();
    return status;
  }
}

export class Container {
  private constructor(private readonly child: Deno.ChildProcess) {}

  /**
   * Starts a container with the original CLIPPER_* environment: `python -m <module>`, `python <script>` (a
   * `.py` file in tests/containers), or a TypeScript container (a `.ts` path from the repository root).
   */
  static start(
    server: Server,
    target: string,
    model: string,
    input_type: string,
    options: { version?: string; args?: string[] } = {},
  ): Container {
    const [cmd, script] = target.endsWith(".ts")
      ? [Deno.execPath(), ["run", "--allow-all", `${root}${target}`]]
      : target.endsWith(".py")
      ? [python, [`${root}tests/containers/${target}`]]
      : [python, ["-m", target]];
    const child = new Deno.Command(cmd, {
      args: [...script, ...(options.args ?? [])],
      env: {
        CLIPPER_MODEL_NAME: model,
        CLIPPER_MODEL_VERSION: options.version ?? "1",
        CLIPPER_INPUT_TYPE: input_type,
        CLIPPER_IP: "127.0.0.1",
        CLIPPER_PORT: String(server.rpc_port),
        PYTHONUNBUFFERED: "1",
      },
      stdout: "null",
      // One line on connect; tracebacks show up in the failing test's output.
      stderr: "inherit",
    }).spawn();
    return new Container(child);
  }

  /** Ends the container abruptly, as a crash would. */
  async kill(): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
  }

  /** Stops the container gracefully (SIGTERM): it finishes its batch and tells the core it is leaving. */
  async stop(): Promise<void> {
    try {
      this.child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.child.status;
  }

  /** Waits for the process to exit on its own. */
  async exited(): Promise<Deno.CommandStatus> {
    return await this.child.status;
  }
}

/** Runs `body` with a fresh server, stopping it and every container afterwards. */
export async function withServer(
  body: (server: Server, containers: Container[]) => Promise<void>,
  extra_args: string[] = [],
): Promise<void> {
  const server = await Server.start(extra_args);
  const containers: Container[] = [];
  try {
    await body(server, containers);
  } finally {
    await Promise.all(containers.map((c) => c.kill()));
    await server.stop();
  }
}
