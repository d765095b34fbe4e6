import assert from "node:assert/strict";
import { ConfigError, loadConfig, usage } from "./config.ts";

Deno.test("defaults bind to loopback on the original ports", () => {
  const c = loadConfig([], {});
  assert.deepEqual([c.host, c.query_port, c.admin_port, c.rpc_port], ["127.0.0.1", 1337, 1338, 7000]);
  assert.equal(c.max_body_bytes, 16 * 1024 * 1024);
  assert.ok(Object.isFrozen(c));
});

Deno.test("flags override environment variables, which override defaults", () => {
  const c = loadConfig(["--query-port", "9000"], { CLIPPER_QUERY_PORT: "8000", CLIPPER_ADMIN_PORT: "8001" });
  assert.equal(c.query_port, 9000);
  assert.equal(c.admin_port, 8001);
});

Deno.test("a bad value fails naming the flag, the variable and the value", () => {
  assert.throws(
    () => loadConfig([], { CLIPPER_RPC_PORT: "seventy" }),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes("--rpc-port (CLIPPER_RPC_PORT)") &&
      e.message.includes('"seventy"'),
  );
  assert.throws(() => loadConfig(["--max-body-bytes", "0"], {}), ConfigError);
  assert.throws(() => loadConfig(["--no-such-flag", "1"], {}), ConfigError);
});

Deno.test("the help text lists every flag with its variable", () => {
  const text = usage();
  for (const flag of ["--host", "--query-port", "--admin-port", "--rpc-port", "--state-dir", "--redis"]) {
    assert.ok(text.includes(flag), flag);
  }
  assert.ok(text.includes("CLIPPER_QUERY_PORT"));
});

Deno.test("an admin token is at least 16 characters, given once, and never echoed when refused", () => {
  assert.equal(loadConfig([], { CLIPPER_ADMIN_TOKEN: "0123456789abcdef" }).admin_token, "0123456789abcdef");
  assert.throws(
    () => loadConfig(["--admin-token", "hunter2"], {}),
    (e: unknown) =>
      e instanceof ConfigError && e.message.includes("got a value of 7 characters") &&
      !e.message.includes("hunter2"),
  );
  assert.throws(
    () => loadConfig(["--admin-token", "0123456789abcdef", "--admin-token-file", "/tmp/token"], {}),
    /Give the admin token once/,
  );
});

Deno.test("the frame limit defaults to 64 MiB, stays within 1 GiB and no lower than the body limit", () => {
  assert.equal(loadConfig([], {}).max_frame_bytes, 64 * 1024 * 1024);
  assert.equal(loadConfig([], { CLIPPER_MAX_FRAME_BYTES: "1073741824" }).max_frame_bytes, 2 ** 30);
  assert.throws(() => loadConfig(["--max-frame-bytes", "1073741825"], {}), /--max-frame-bytes/);
  assert.throws(() => loadConfig(["--max-frame-bytes", "0"], {}), /CLIPPER_MAX_FRAME_BYTES/);
  assert.throws(
    () => loadConfig(["--max-frame-bytes", "1000", "--max-body-bytes", "1001"], {}),
    /no less than --max-body-bytes \(1001\), got "1000"/,
  );
});

Deno.test("a TLS certificate and key are given together or not at all", () => {
  const both = loadConfig(["--tls-cert", "c.pem"], { CLIPPER_TLS_KEY: "k.pem" });
  assert.deepEqual([both.tls_cert, both.tls_key], ["c.pem", "k.pem"]);
  assert.throws(() => loadConfig(["--tls-cert", "c.pem"], {}), /--tls-cert.*--tls-key/);
  assert.throws(() => loadConfig([], { CLIPPER_TLS_KEY: "k.pem" }), ConfigError);
});
