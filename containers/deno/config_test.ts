import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./config.ts";

Deno.test("the CLIPPER_* environment configures a container, with the original defaults", () => {
  assert.deepEqual(loadConfig({ CLIPPER_MODEL_NAME: "m", CLIPPER_MODEL_VERSION: "2" }), {
    model_name: "m",
    model_version: "2",
    input_type: "doubles",
    host: "127.0.0.1",
    port: 7000,
    model_path: undefined,
    replica: undefined,
  });
  const c = loadConfig({
    CLIPPER_MODEL_NAME: "m",
    CLIPPER_MODEL_VERSION: "2",
    CLIPPER_INPUT_TYPE: "s",
    CLIPPER_IP: "10.0.0.1",
    CLIPPER_PORT: "7001",
    CLIPPER_REPLICA: "2",
  });
  assert.deepEqual([c.input_type, c.host, c.port, c.replica], ["strings", "10.0.0.1", 7001, 2]);
});

Deno.test("a missing or invalid setting fails naming the variable and the value", () => {
  assert.throws(
    () => loadConfig({ CLIPPER_MODEL_VERSION: "1" }),
    (e: unknown) => e instanceof ConfigError && /CLIPPER_MODEL_NAME is not set/.test(e.message),
  );
  const base = { CLIPPER_MODEL_NAME: "m", CLIPPER_MODEL_VERSION: "1" };
  assert.throws(() => loadConfig({ ...base, CLIPPER_PORT: "x" }), /CLIPPER_PORT="x" is invalid/);
  assert.throws(
    () => loadConfig({ ...base, CLIPPER_INPUT_TYPE: "tensors" }),
    /CLIPPER_INPUT_TYPE="tensors" is invalid/,
  );
  for (const bad of ["-1", "two", "1.5"]) {
    assert.throws(
      () => loadConfig({ ...base, CLIPPER_REPLICA: bad }),
      new RegExp(`CLIPPER_REPLICA="${bad}"`),
    );
  }
});
