/**
 * The container manager through the management API: replicas run as real local processes, scale up and
 * down under load without losing a query, come back after a crash, and go away with their model version.
 */
import assert from "node:assert/strict";
import { Server, waitFor } from "./harness.ts";

const python = Deno.env.get("CLIPPER_PYTHON") ?? new URL("../.venv/bin/python", import.meta.url).pathname;
const SUM = [python, "-m", "clipper_container.examples.sum"];

interface Managed {
  replica: number;
  pid: number | null;
  running: boolean;
  restarts: number;
  connected: boolean;
  log_path: string;
}

async function managed(server: Server): Promise<Managed[]> {
  const r = await server.admin("get_model_replicas", { model_name: "sum", model_version: "1" });
  assert.equal(r.status, 200, r.text);
  return r.body as Managed[];
}

/** Registers `sum:1` with the command that starts a replica, and asks for `num_replicas` of them. */
async function runSum(server: Server, num_replicas: number): Promise<void> {
  const steps = [
    ["add_model", { model_name: "sum", model_version: "1", input_type: "ints", container_command: SUM }],
    ["set_num_replicas", { model_name: "sum", model_version: "1", num_replicas }],
  ] as const;
  for (const [endpoint, body] of steps) {
    const r = await server.admin(endpoint, body);
    assert.equal(r.status, 200, `${endpoint}: ${r.text}`);
  }
}

async function connected(server: Server): Promise<number> {
  const r = await server.admin("get_all_containers", { verbose: false });
  return (r.body as string[]).length;
}

Deno.test("replicas scale from 1 to 3 and back under load with every query answered", async () => {
  const server = await Server.start();
  try {
    await runSum(server, 1);
    const app = { name: "shop", input_type: "ints", default_output: "-1", latency_slo_micros: 5_000_000 };
    assert.equal((await server.admin("add_app", app)).status, 200);
    assert.equal(
      (await server.admin("add_model_links", { app_name: "shop", model_names: ["sum"] })).status,
      200,
    );
    await waitFor("one replica to connect", async () => (await connected(server)) === 1 ? true : undefined);

    let loading = true;
    const answers: { status: number; output: unknown; expected: number }[] = [];
    const load = (async () => {
      for (let i = 0; loading && i < 20_000; i++) {
        const r = await server.predict("shop", { input: [i, 1] });
        answers.push({ status: r.status, output: (r.body as { output?: unknown })?.output, expected: i + 1 });
      }
    })();
    const scale = async (n: number) => {
      const r = await server.admin("set_num_replicas", {
        model_name: "sum",
        model_version: "1",
        num_replicas: n,
      });
      assert.equal(r.status, 200, r.text);
    };
    await scale(3);
    await waitFor(
      "three replicas to connect",
      async () => (await connected(server)) === 3 ? true : undefined,
    );
    assert.equal((await managed(server)).filter((m) => m.running).length, 3);
    await scale(1);
    await waitFor("two replicas to stop", async () => {
      const m = await managed(server);
      return m.length === 1 && m[0]!.running ? true : undefined;
    });
    // Keep the load going a little past the scale-down.
    const seen = answers.length;
    await waitFor(
      "more answers after the scale-down",
      () => Promise.resolve(answers.length > seen + 20 ? true : undefined),
    );
    loading = false;
    await load;
    assert.ok(answers.length > 20);
    const wrong = answers.filter((a) => a.status !== 200 || a.output !== a.expected);
    assert.deepEqual(
      wrong,
      [],
      `${wrong.length} of ${answers.length} queries were not answered by the model`,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("a replica that crashes is restarted and its restart is counted", async () => {
  const server = await Server.start();
  try {
    await runSum(server, 1);
    const logs = async () =>
      (await server.admin("get_replica_logs", { model_name: "sum", model_version: "1", replica: 0 })).text;
    const first = await waitFor("the replica to run and log its start", async () => {
      const m = await managed(server);
      return m[0]?.running && (await logs()).includes("serving sum:1") ? m[0] : undefined;
    });
    Deno.kill(first.pid!, "SIGKILL");
    const again = await waitFor("the replica to be restarted", async () => {
      const m = await managed(server);
      return m[0]?.running && m[0].pid !== first.pid ? m[0] : undefined;
    });
    assert.equal(again.restarts, 1);
    await waitFor("the log to show the exit and the second start", async () => {
      const text = await logs();
      return /restarting/.test(text) && text.split("serving sum:1").length === 3 ? true : undefined;
    });
  } finally {
    await server.stop();
  }
});

Deno.test("the core numbers each managed replica as the manager does, across a restart", async () => {
  const server = await Server.start();
  try {
    await runSum(server, 3);
    const coreNumbers = async () => {
      const r = await server.admin("get_all_containers", { verbose: true });
      return (r.body as { model_replica_id: number }[]).map((c) => c.model_replica_id).sort();
    };
    const all = await waitFor("three replicas to connect", async () => {
      const m = await managed(server);
      return m.length === 3 && m.every((r) => r.connected) ? m : undefined;
    });
    assert.deepEqual(all.map((r) => r.replica), [0, 1, 2]);
    assert.deepEqual(await coreNumbers(), [0, 1, 2]);
    // Replica 1 dies: while it is away the manager shows it disconnected, and it comes back as number 1.
    Deno.kill(all[1]!.pid!, "SIGKILL");
    await waitFor("replica 1 to be restarted and connect again", async () => {
      const m = await managed(server);
      return m[1]?.restarts === 1 && m.every((r) => r.connected) ? true : undefined;
    });
    assert.deepEqual(await coreNumbers(), [0, 1, 2]);
  } finally {
    await server.stop();
  }
});

Deno.test("deleting a model version stops its replicas; scaling without a command is refused", async () => {
  const server = await Server.start();
  try {
    await runSum(server, 2);
    const pids = await waitFor("two replicas to run", async () => {
      const m = await managed(server);
      return m.length === 2 && m.every((r) => r.running) ? m.map((r) => r.pid!) : undefined;
    });
    assert.equal(
      (await server.admin("delete_versioned_model", { model_name: "sum", model_version: "1" })).status,
      200,
    );
    await waitFor("the replica processes to exit", () => {
      const alive = pids.filter((pid) => {
        try {
          Deno.kill(pid, "SIGCONT");
          return true;
        } catch {
          return false;
        }
      });
      return Promise.resolve(alive.length === 0 ? true : undefined);
    });
    await server.admin("add_model", { model_name: "bare", model_version: "1", input_type: "ints" });
    const refused = await server.admin("set_num_replicas", {
      model_name: "bare",
      model_version: "1",
      num_replicas: 1,
    });
    assert.equal(refused.status, 400);
    assert.match((refused.body as { cause: string }).cause, /container_command/);
    const unknown = await server.admin("set_num_replicas", {
      model_name: "ghost",
      model_version: "1",
      num_replicas: 1,
    });
    assert.equal(unknown.status, 404);
    const bad = await server.admin("set_num_replicas", {
      model_name: "bare",
      model_version: "1",
      num_replicas: -1,
    });
    assert.equal(bad.status, 400);
  } finally {
    await server.stop();
  }
});

Deno.test("a replica's log rotates past its bound and get_replica_logs reads across the files", async () => {
  const server = await Server.start(["--replica-log-bytes", "100", "--replica-log-files", "3"]);
  try {
    await runSum(server, 1);
    const logs = async () =>
      (await server.admin("get_replica_logs", { model_name: "sum", model_version: "1", replica: 0 })).text;
    let replica = await waitFor("the replica to run and log its start", async () => {
      const m = await managed(server);
      return m[0]?.running && (await logs()).includes("serving sum:1") ? m[0] : undefined;
    });
    // Each crash adds an exit line and a start's lines: enough to pass 100 bytes more than once.
    for (let crash = 1; crash <= 3; crash++) {
      Deno.kill(replica.pid!, "SIGKILL");
      const previous = replica.pid;
      replica = await waitFor("the replica to be restarted", async () => {
        const m = await managed(server);
        if (!m[0]?.running || m[0].pid === previous || m[0].restarts !== crash) return undefined;
        const text = await logs();
        return text.lastIndexOf("serving sum:1") > text.lastIndexOf("restarting") ? m[0] : undefined;
      });
    }
    const rotated = [1, 2].map((i) => `${replica.log_path}.${i}`);
    for (const path of rotated) assert.ok(Deno.statSync(path).isFile, `${path} exists`);
    assert.throws(() => Deno.statSync(`${replica.log_path}.3`), Deno.errors.NotFound);
    // What the endpoint returns is the files' contents, oldest first, ending with the newest start.
    const whole = [...rotated.reverse(), replica.log_path].map((p) => Deno.readTextFileSync(p)).join("");
    const text = await logs();
    assert.equal(text, whole);
    assert.match(text, /restarting/);
  } finally {
    await server.stop();
  }
});
