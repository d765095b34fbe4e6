/**
 * Graceful drain under load: the real server, a replica it manages running a slow model, and a stream of
 * concurrent predict requests, each on a connection of its own, when SIGTERM arrives. Every request whose
 * connection the server took gets a complete answer, connections after the signal are refused, the
 * server exits 0 within its drain time, and the replica it started is gone.
 */
import assert from "node:assert/strict";
import { Server, waitFor } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;
/** Each query takes this long, one at a time, so several wait on the model when the signal comes. */
const MODEL_SECONDS = "0.2";
const DRAIN_TIMEOUT_MILLIS = 8_000;
const CLIENTS = 8;

type Outcome =
  | { kind: "answered"; status: number; body: { output?: unknown; default?: boolean }; at: number }
  | { kind: "refused" }
  | { kind: "broken"; why: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads until the peer closes or resets the connection. */
async function readAll(conn: Deno.Conn): Promise<{ text: string; reset: boolean }> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(16 * 1024);
  let reset = false;
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) chunks.push(buf.slice(0, n));
  } catch (err) {
    if (!(err instanceof Deno.errors.ConnectionReset)) throw err;
    reset = true;
  }
  return { text: decoder.decode(new Uint8Array(chunks.flatMap((c) => [...c]))), reset };
}

/** Parses a whole HTTP/1.1 answer framed by content-length; undefined when it is cut short. */
function parseAnswer(text: string): { status: number; body: string } | undefined {
  const split = text.indexOf("\r\n\r\n");
  if (!text.startsWith("HTTP/1.1 ") || split < 0) return undefined;
  const head = text.slice(0, split);
  const body = text.slice(split + 4);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (!length || encoder.encode(body).length !== Number(length[1])) return undefined;
  return { status: Number(head.slice(9, 12)), body };
}

let next_input = 0;

/**
 * One predict request on a fresh connection (`Connection: close`), so every request is its own accept. Each
 * input is new, so that every query costs the model its time (neither the cache nor coalescing answers it).
 */
async function predict(port: number): Promise<Outcome> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch (err) {
    if (err instanceof Deno.errors.ConnectionRefused) return { kind: "refused" };
    throw err;
  }
  try {
    const body = JSON.stringify({ input: [next_input++, 2, 3] });
    await conn.write(encoder.encode(
      `POST /slow/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    ));
    const { text, reset } = await readAll(conn);
    const answer = parseAnswer(text);
    if (!answer) {
      return { kind: "broken", why: reset ? "the connection was reset" : "the answer was cut short" };
    }
    return {
      kind: "answered",
      status: answer.status,
      body: JSON.parse(answer.body),
      at: Date.now(),
    };
  } catch (err) {
    return { kind: "broken", why: String(err) };
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by a failed read already.
    }
  }
}

/** Whether process `pid` still runs (a zombie not yet reaped counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

Deno.test("on SIGTERM under load every accepted query is answered, new connections are refused, and the server exits 0 with its replicas stopped", async () => {
  const server = await Server.start(["--drain-timeout-millis", String(DRAIN_TIMEOUT_MILLIS)]);
  let exited: Promise<Deno.CommandStatus> | undefined;
  try {
    const slow = [python, `${root}tests/containers/slow.py`, MODEL_SECONDS];
    const steps: [string, unknown][] = [
      ["add_app", {
        name: "slow",
        input_type: "doubles",
        default_output: "-1",
        latency_slo_micros: 5_000_000,
      }],
      ["add_model", {
        model_name: "slow",
        model_version: "1",
        input_type: "doubles",
        container_command: slow,
        batch_size: 1,
      }],
      ["set_num_replicas", { model_name: "slow", model_version: "1", num_replicas: 1 }],
      ["add_model_links", { app_name: "slow", model_names: ["slow"] }],
    ];
    for (const [endpoint, body] of steps) {
      const r = await server.admin(endpoint, body);
      assert.equal(r.status, 200, `${endpoint}: ${r.text}`);
    }
    await server.waitForReplicas("slow", 1, 60_000);
    const replicas = await server.admin("get_model_replicas", { model_name: "slow", model_version: "1" });
    const [pid] = (replicas.body as { pid: number | null }[]).map((r) => r.pid);
    assert.ok(typeof pid === "number" && running(pid), replicas.text);
    const port = Number(new URL(server.query_url).port);

    let signalled = false;
    const outcomes: Outcome[] = [];
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (!signalled) outcomes.push(await predict(port));
    });
    await waitFor("the model to answer under load", () => {
      const answered = outcomes.filter((o) => o.kind === "answered" && !o.body.default).length;
      return Promise.resolve(answered >= CLIENTS || undefined);
    }, 60_000);

    signalled = true;
    const signalled_at = Date.now();
    exited = server.stop();
    // The query port closes first, while the requests already taken are still being answered.
    // The probes only connect: one the server took before closing its listener would otherwise wait behind
    // the clients' queries for its answer, and say nothing of when the port closed.
    await waitFor("the query port to refuse new connections", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return undefined;
      } catch (err) {
        if (err instanceof Deno.errors.ConnectionRefused) return true;
        throw err;
      }
    }, DRAIN_TIMEOUT_MILLIS);
    const refused_at = Date.now();
    await Promise.all(clients);
    const status = await exited;
    const took = Date.now() - signalled_at;

    const broken = outcomes.filter((o) => o.kind === "broken");
    assert.deepEqual(broken, [], "no accepted request lost its answer");
    const answered = outcomes.filter((o) => o.kind === "answered");
    for (const o of answered) {
      assert.equal(o.status, 200, JSON.stringify(o.body));
      assert.ok(o.body.output !== undefined, JSON.stringify(o.body));
    }
    assert.ok(
      answered.some((o) => o.at > refused_at),
      "requests taken before the signal were still being answered after the port closed",
    );
    assert.equal(status.code, 0, "a drained server exits 0");
    // The drain bound, plus generous room for the rest of a shutdown on a loaded machine.
    assert.ok(took < DRAIN_TIMEOUT_MILLIS + 20_000, `shutdown took ${took} ms`);
    await waitFor("the managed replica to exit", () => Promise.resolve(!running(pid) || undefined));
  } finally {
    await (exited ?? server.stop());
  }
});
