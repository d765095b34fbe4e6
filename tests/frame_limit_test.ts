/**
 * The frame limit (--max-frame-bytes): a peer on the RPC port that announces a larger frame loses its
 * connection from the header alone, and is counted, while a real container on the same server keeps
 * answering predictions.
 */
import assert from "node:assert/strict";
import { checkGreeting, greeting, GREETING_BYTES, nextFrame, ready } from "../containers/deno/zmtp.ts";
import { Container, waitFor, withServer } from "./harness.ts";

const LIMIT_BYTES = 64 * 1024;

/** `buf` with what `conn` reads next appended; throws if the server closed it. */
async function readMore(conn: Deno.TcpConn, buf: Uint8Array): Promise<Uint8Array> {
  const chunk = new Uint8Array(4096);
  const n = await conn.read(chunk);
  if (n === null) throw new Error(`The server closed the connection after ${buf.length} bytes`);
  return Uint8Array.from([...buf, ...chunk.subarray(0, n)]);
}

/** Whether the server closes `conn` (an end of stream or a reset) within 20 s. */
async function closedByPeer(conn: Deno.TcpConn): Promise<boolean> {
  const chunk = new Uint8Array(4096);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<"open">((resolve) => timer = setTimeout(() => resolve("open"), 20_000));
  const closed = (async () => {
    try {
      // The server writes nothing after READY; read until it closes.
      while (await conn.read(chunk) !== null);
    } catch {
      // A reset is a close too.
    }
    return "closed" as const;
  })();
  const outcome = await Promise.race([closed, gaveUp]);
  clearTimeout(timer);
  return outcome === "closed";
}

Deno.test("a peer announcing a frame over the limit is disconnected and counted; a real container keeps serving", async () => {
  const limits = ["--max-body-bytes", String(LIMIT_BYTES), "--max-frame-bytes", String(LIMIT_BYTES)];
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    containers.push(Container.start(server, "clipper_container.examples.sum", "sum", "doubles"));
    await server.waitForReplicas("sum");

    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.rpc_port });
    try {
      // A valid ZMTP 3.0 handshake as a DEALER: our greeting and READY, the router's greeting and READY.
      await conn.write(greeting());
      await conn.write(ready());
      let hello: Uint8Array = new Uint8Array(0);
      while (hello.length < GREETING_BYTES) hello = await readMore(conn, hello);
      checkGreeting(hello.subarray(0, GREETING_BYTES));
      while (!nextFrame(hello, GREETING_BYTES, hello.length)) hello = await readMore(conn, hello);
      // Then a long frame header claiming 2^40 bytes, and a few bytes of body: never anything like it.
      const header = new Uint8Array(9 + 16);
      header[0] = 0x02;
      new DataView(header.buffer).setBigUint64(1, 2n ** 40n);
      await conn.write(header);
      assert.ok(await closedByPeer(conn), "the server closed the connection");
    } finally {
      conn.close();
    }

    await waitFor("the core to count the oversized frame", async () => {
      const core = ((await server.get("/metrics")).body as { core: Record<string, number> }).core;
      return core.oversized_frames === 1 ? true : undefined;
    });
    const r = await server.predict("shop", { input: [2, 3] });
    assert.deepEqual([r.status, (r.body as { output: unknown }).output], [200, 5]);
  }, limits);
});

Deno.test("300 silent connections and a header claiming 2^63 bytes on the RPC port leave it serving new containers", async () => {
  await withServer(async (server, containers) => {
    await server.deploy("shop", "sum", "doubles");
    const silent = await Promise.all(
      Array.from({ length: 300 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.rpc_port })),
    );
    const liar = await Deno.connect({ hostname: "127.0.0.1", port: server.rpc_port });
    try {
      await liar.write(greeting());
      await liar.write(ready());
      const header = new Uint8Array(9);
      header[0] = 0x02;
      new DataView(header.buffer).setBigUint64(1, 2n ** 63n);
      await liar.write(header);
      assert.ok(await closedByPeer(liar), "the server closed the lying connection");
      // A container connecting while the silent ones are still open is registered and answers.
      containers.push(Container.start(server, "clipper_container.examples.sum", "sum", "doubles"));
      await server.waitForReplicas("sum");
      const r = await server.predict("shop", { input: [2, 3] });
      assert.deepEqual([r.status, (r.body as { output: unknown }).output], [200, 5]);
    } finally {
      liar.close();
      for (const conn of silent) conn.close();
    }
  });
});
