/**
 * TLS on the public ports: a server started with `--tls-cert`/`--tls-key` (a self-signed certificate made
 * here with the `openssl` CLI) answers predictions on the query port and management calls on the admin
 * port over HTTPS, gives no prediction to plain HTTP, and drops a client that never handshakes while
 * serving others.
 */
import assert from "node:assert/strict";
import { Server } from "./harness.ts";

async function selfSigned(dir: string): Promise<{ cert: string; key: string; pem: string }> {
  const [cert, key] = [`${dir}/cert.pem`, `${dir}/key.pem`];
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      // A certificate marked as a CA is refused as a server's own by rustls (Deno's fetch).
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-days",
      "1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(made.success, new TextDecoder().decode(made.stderr));
  return { cert, key, pem: await Deno.readTextFile(cert) };
}

Deno.test("a server with a certificate serves queries and management over HTTPS only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clipper-tls-" });
  const { cert, key, pem } = await selfSigned(dir);
  const server = await Server.start(["--tls-cert", cert, "--tls-key", key], undefined, pem);
  try {
    assert.ok(server.admin_url.startsWith("https://"));
    // Management over HTTPS (the harness's deploy is three admin calls through the trusting client).
    await server.deploy("shop", "m", "doubles", { slo_micros: 20_000, default_output: "7" });
    // No container is connected: the core answers with the default output, over HTTPS.
    const answer = await server.predict("shop", { input: [1, 2] });
    assert.equal(answer.status, 200, answer.text);
    assert.equal((answer.body as { output: unknown }).output, 7);

    // Plain HTTP to the TLS port gets no prediction.
    const plain = server.query_url.replace("https://", "http://");
    const refused = await fetch(`${plain}/shop/predict`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: [1, 2] }),
    }).then(async (r) => (await r.body?.cancel(), r.status), () => "failed");
    assert.notEqual(refused, 200);

    // A client that connects and never handshakes is dropped, and others are served meanwhile.
    const { port } = new URL(server.query_url);
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    const again = await server.predict("shop", { input: [3] });
    assert.equal(again.status, 200, again.text);
    const closed = await Promise.race([
      silent.read(new Uint8Array(1)).then((n) => n === null, () => true),
      new Promise<false>((r) => setTimeout(() => r(false), 60_000)),
    ]);
    silent.close();
    assert.ok(closed, "the silent connection was still open after 60 s");
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate without its key stops start-up with a message naming both flags", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../src/main.ts", import.meta.url).pathname, "--tls-cert", "x.pem"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(err.includes("--tls-cert") && err.includes("--tls-key"), err);
});

Deno.test("a key that does not fit the certificate stops start-up naming both flags and files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clipper-tls-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    const [a, b] = [await selfSigned(`${dir}/a`), await selfSigned(`${dir}/b`)];
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("../src/main.ts", import.meta.url).pathname,
        ...["--query-port", "0", "--admin-port", "0", "--rpc-port", "0", "--state-dir", `${dir}/state`],
        ...["--tls-cert", a.cert, "--tls-key", b.key],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    const err = new TextDecoder().decode(out.stderr);
    assert.ok(err.includes(`--tls-key "${b.key}" does not fit --tls-cert "${a.cert}"`), err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
