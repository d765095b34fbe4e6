/**
 * Load and slow clients on the query port, end to end with real sockets: bodies declared over the limit,
 * batches no bound can take, overload, trickled heads, idle keep-alive connections and the connection cap.
 * Waiting is bounded polling; the server's timeouts are set small so that every test ends in seconds.
 */
import assert from "node:assert/strict";
import { Container, type JsonResponse, type Server, waitFor, withServer } from "./harness.ts";

const SUM = "clipper_container.examples.sum";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: unknown;
}

/** One client connection spoken to byte by byte, for what `fetch` cannot do (trickle, hold, declare). */
class Raw {
  #buffered = new Uint8Array(0);
  #closed: Promise<true> | undefined;

  private constructor(readonly conn: Deno.TcpConn) {}

  /** A raw connection to the query port, or with `"admin"` to the management port. */
  static async open(server: Server, to: "query" | "admin" = "query"): Promise<Raw> {
    const { hostname, port } = new URL(to === "query" ? server.query_url : server.admin_url);
    return new Raw(await Deno.connect({ hostname, port: Number(port) }));
  }

  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /** Reads one response with a `content-length` body (the core's own answers have one). */
  async response(): Promise<RawResponse> {
    let end: number;
    while ((end = this.#find("\r\n\r\n")) < 0) await this.#fill();
    const head = decoder.decode(this.#buffered.subarray(0, end)).split("\r\n");
    const status = Number(head[0]!.split(" ")[1]);
    const headers = new Map(
      head.slice(1).map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    const length = Number(headers.get("content-length") ?? 0);
    while (this.#buffered.length < end + 4 + length) await this.#fill();
    const body = JSON.parse(decoder.decode(this.#buffered.subarray(end + 4, end + 4 + length)));
    this.#buffered = this.#buffered.subarray(end + 4 + length);
    return { status, headers, body };
  }

  /** Resolves once the server has closed the connection (end of stream or reset). */
  closed(): Promise<true> {
    return this.#closed ??= (async () => {
      try {
        while (await this.conn.read(new Uint8Array(1024)) !== null) {
          // Whatever comes before the close does not matter here.
        }
      } catch {
        // A reset is a close too.
      }
      return true as const;
    })();
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  #find(text: string): number {
    return decoder.decode(this.#buffered).indexOf(text);
  }

  async #fill(): Promise<void> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) throw new Error("The server closed the connection before answering");
    const joined = new Uint8Array(this.#buffered.length + n);
    joined.set(this.#buffered);
    joined.set(chunk.subarray(0, n), this.#buffered.length);
    this.#buffered = joined;
  }
}

function predictRequest(app: string, body: string, extra = ""): string {
  return `POST /${app}/predict HTTP/1.1\r\nhost: clipper\r\ncontent-type: application/json\r\n` +
    `content-length: ${encoder.encode(body).length}\r\n${extra}\r\n${body}`;
}

async function coreCounters(server: Server): Promise<Record<string, number>> {
  const r = await server.get("/metrics");
  assert.equal(r.status, 200, r.text);
  return (r.body as { core: Record<string, number> }).core;
}

/** Resolves with whichever settles first: `promise`'s value, or "pending" once `millis` have passed. */
async function within<T>(promise: Promise<T>, millis: number): Promise<T | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"pending">((r) => timer = setTimeout(() => r("pending"), millis));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a body declared over the limit is refused 413 unread, in the frontend's words, and the port serves on", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const raw = await Raw.open(server);
    // The head alone: the answer must not wait for a terabyte that never comes.
    await raw.send(
      "POST /shop/predict HTTP/1.1\r\nhost: clipper\r\ncontent-type: application/json\r\n" +
        "content-length: 1000000000000\r\n\r\n",
    );
    const declared = await raw.response();
    assert.equal(declared.status, 413);
    assert.equal(declared.headers.get("connection"), "close");
    assert.equal(await raw.closed(), true);
    // The same body sent chunked is read up to the limit and refused by the frontend.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(`{"input": [${"1,".repeat(700)}1]}`));
        controller.close();
      },
    });
    const res = await fetch(`${server.query_url}/shop/predict`, { method: "POST", body: chunks });
    const chunked = await res.json();
    assert.equal(res.status, 413);
    assert.deepEqual(declared.body, chunked);
    assert.deepEqual(chunked, {
      error: "Request body too large",
      cause: "Cannot accept a request body over 1024 bytes",
      code: "body_too_large",
    });
    const after = await server.predict("shop", { input: [1, 2] });
    assert.equal(after.status, 200, after.text);
  }, ["--max-body-bytes", "1024"]);
});

Deno.test("a million-row input batch is refused 413 naming the bound, by the core and the frontend alike", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const rows = `[${Array.from({ length: 1_000_000 }, () => "[1]").join(",")}]`;
    const native = await server.predict("shop", `{"input_batch": ${rows}}`);
    // A pinned version goes to the frontend, which submits through the C ABI.
    const frontend = await server.predict("shop", `{"input_batch": ${rows}, "version": "1"}`);
    for (const r of [native, frontend]) {
      assert.equal(r.status, 413, r.text.slice(0, 500));
      assert.deepEqual(r.body, {
        error: "Input batch too large",
        cause: "Cannot queue 1000000 queries of one request: no more than 50000 can be outstanding " +
          "(--max-outstanding-per-model)",
        code: "batch_too_large",
      });
    }
    assert.equal((await coreCounters(server)).submissions_too_large, 2);
    const after = await server.predict("shop", { input_batch: [[1], [2]] });
    assert.equal(after.status, 200, after.text);
  }, ["--max-outstanding-per-model", "50000"]);
});

Deno.test("over the outstanding bound a query is refused 503 with Retry-After at once, and counted", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("slow", "slow", "doubles", { slo_micros: 20_000_000, batch_size: 1 });
    containers.push(Container.start(server, "slow.py", "slow", "doubles", { args: ["3"] }));
    await server.waitForReplicas("slow");
    // Two queries fill the model's bound while the container sleeps on the first.
    const held = [server.predict("slow", { input: [1] }), server.predict("slow", { input: [2] })];
    await waitFor("one query in flight and one queued", async () => {
      const core = await coreCounters(server);
      return core.inflight_batches === 1 && core.queued_queries === 1 ? true : undefined;
    });
    const refused = await server.predict("slow", { input: [3] });
    // At once: the held queries are still waiting for the container.
    assert.equal(await within(Promise.all(held), 0), "pending");
    const pinned = await fetch(`${server.query_url}/slow/predict`, {
      method: "POST",
      body: JSON.stringify({ input: [4], version: "1" }),
    });
    const frontend: JsonResponse = { status: pinned.status, body: await pinned.json(), text: "" };
    for (const r of [refused, frontend]) {
      assert.equal(r.status, 503);
      assert.deepEqual(r.body, {
        error: "Serving core overloaded",
        cause: "Cannot queue the query: the model is at its limit of 2 outstanding queries " +
          "(--max-outstanding-per-model); retry later",
        code: "overloaded",
      });
    }
    assert.equal(pinned.headers.get("retry-after"), "1");
    const raw = await Raw.open(server);
    await raw.send(predictRequest("slow", '{"input": [5]}'));
    const native = await raw.response();
    raw.close();
    assert.equal(native.headers.get("retry-after"), "1");
    assert.ok((await coreCounters(server)).submissions_overloaded! >= 3);
    for (const r of await Promise.all(held)) {
      assert.equal(r.status, 200, r.text);
      assert.equal((r.body as { default: boolean }).default, false);
    }
    // Answered queries make room again.
    const again = await server.predict("slow", { input: [6] });
    assert.equal(again.status, 200, again.text);
  }, ["--max-outstanding-per-model", "2"]);
});

Deno.test("hundreds of clients trickling their heads are closed by the head timeout while queries are answered", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles", { slo_micros: 1_000_000 });
    containers.push(Container.start(server, SUM, "sum", "doubles"));
    await server.waitForReplicas("sum");
    const head = predictRequest("shop", '{"input": [1]}', `x-padding: ${"a".repeat(200)}\r\n`);
    const tricklers = await Promise.all(Array.from({ length: 300 }, () => Raw.open(server)));
    let trickling = true;
    // A byte per connection every 100 ms: the 250-byte head would take 25 s, the timeout allows 1.
    const trickle = (async () => {
      for (let at = 0; trickling && at < head.length; at++) {
        await Promise.all(tricklers.map((t) => t.send(head[at]!).catch(() => {})));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const closed = tricklers.map((t) => t.closed());
    try {
      let answered = 0;
      const until = Date.now() + 2_000;
      while (Date.now() < until) {
        const r = await server.predict("shop", { input: [answered, 1] });
        assert.equal(r.status, 200, r.text);
        // A default output would mean the model missed the app's latency objective.
        const body = r.body as { output: number; default: boolean };
        assert.equal(body.default, false, r.text);
        assert.equal(body.output, answered + 1);
        answered += 1;
      }
      assert.ok(answered > 0);
      await waitFor("every trickling connection closed", async () => {
        const states = await Promise.all(closed.map((c) => within(c, 0)));
        return states.every((s) => s === true) ? true : undefined;
      }, 15_000);
    } finally {
      trickling = false;
      await trickle;
      tricklers.forEach((t) => t.close());
    }
    assert.ok((await coreCounters(server)).header_timeouts! >= 300);
  }, ["--header-read-timeout-millis", "1000"]);
});

Deno.test("a body sent slower than the body timeout closes its connection", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const raw = await Raw.open(server);
    // The head whole, then a tenth of the declared body, then nothing.
    await raw.send(
      "POST /shop/predict HTTP/1.1\r\nhost: clipper\r\ncontent-type: application/json\r\n" +
        'content-length: 100\r\n\r\n{"input": ',
    );
    assert.equal(await within(raw.closed(), 15_000), true);
    raw.close();
    assert.equal((await coreCounters(server)).body_timeouts, 1);
    const after = await server.predict("shop", { input: [1] });
    assert.equal(after.status, 200, after.text);
  }, ["--body-read-timeout-millis", "1000"]);
});

Deno.test("a kept-alive connection left idle is closed after the idle timeout", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const raw = await Raw.open(server);
    await raw.send(predictRequest("shop", '{"input": [1]}'));
    assert.equal((await raw.response()).status, 200);
    // Another request on the same connection is served: it was kept alive.
    await raw.send(predictRequest("shop", '{"input": [2]}'));
    assert.equal((await raw.response()).status, 200);
    const started = Date.now();
    assert.equal(await within(raw.closed(), 15_000), true);
    raw.close();
    // The head timeout is ten times longer: it was the idle timeout that closed it.
    assert.ok(Date.now() - started < 10_000);
    assert.ok((await coreCounters(server)).idle_timeouts! >= 1);
  }, ["--idle-timeout-millis", "1000", "--header-read-timeout-millis", "10000"]);
});

Deno.test("connections over the cap are closed at once while the open ones are served", async () => {
  await withServer(async (server) => {
    await server.deploy("shop", "sum", "doubles");
    const open = await Promise.all(Array.from({ length: 4 }, () => Raw.open(server)));
    try {
      for (const raw of open) {
        await raw.send(predictRequest("shop", '{"input": [1]}'));
        assert.equal((await raw.response()).status, 200);
      }
      const over = await Raw.open(server);
      assert.equal(await within(over.closed(), 10_000), true);
      over.close();
      for (const raw of open) {
        await raw.send(predictRequest("shop", '{"input": [2]}'));
        assert.equal((await raw.response()).status, 200);
      }
    } finally {
      open.forEach((raw) => raw.close());
    }
    // Room again once the held connections are gone; fetch's own connection is then served.
    const counters = await waitFor("a connection under the cap", () => coreCounters(server));
    assert.ok(counters.connections_refused! >= 1);
  }, ["--max-connections", "4"]);
});

Deno.test("the management port holds its clients to the same head timeout and connection cap", async () => {
  await withServer(async (server) => {
    const trickling = await Raw.open(server, "admin");
    await trickling.send("GET /admin/ping HTTP/1.1\r\nhost: clipper\r\n");
    assert.equal(await within(trickling.closed(), 15_000), true);
    trickling.close();
    const open = await Promise.all(Array.from({ length: 2 }, () => Raw.open(server, "admin")));
    try {
      const over = await Raw.open(server, "admin");
      assert.equal(await within(over.closed(), 10_000), true);
      over.close();
      const body = '{"verbose": false}';
      await open[0]!.send(
        `POST /admin/get_all_applications HTTP/1.1\r\nhost: clipper\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      const apps = await open[0]!.response();
      assert.deepEqual([apps.status, apps.body], [200, []]);
    } finally {
      open.forEach((raw) => raw.close());
    }
    const counters = await waitFor("the counters", () => coreCounters(server));
    assert.ok(counters.header_timeouts! >= 1 && counters.connections_refused! >= 1, JSON.stringify(counters));
  }, ["--header-read-timeout-millis", "1000", "--max-connections", "2"]);
});
