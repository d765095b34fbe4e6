/**
 * The management API behind a token: a server started with `--admin-token-file` refuses anonymous writes
 * with a 401, serves its liveness ping to anyone, and takes the Python admin client's calls when it carries
 * the token (`CLIPPER_ADMIN_TOKEN`).
 */
import assert from "node:assert/strict";
import { Server } from "./harness.ts";

const root = new URL("..", import.meta.url).pathname;
const python = Deno.env.get("CLIPPER_PYTHON") ?? `${root}.venv/bin/python`;

Deno.test("an admin token guards every management call but the ping, and the Python client sends it", async () => {
  const token = crypto.randomUUID();
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, `${token}\n`);
  const server = await Server.start(["--admin-token-file", file]);
  try {
    const anonymous = await server.admin("add_app", {
      name: "shop",
      input_type: "doubles",
      default_output: "-1",
      latency_slo_micros: 100_000,
    });
    assert.equal(anonymous.status, 401);
    assert.equal((anonymous.body as { code: string }).code, "unauthorized");
    const client = (admin_token: string) =>
      new Deno.Command(python, {
        args: [
          "-c",
          "import sys; from clipper_container.admin import ClipperConnection as C; " +
          "c = C(sys.argv[1]); c.register_application('shop', 'doubles', '-1', 100000); " +
          "print(c.get_app_policy('shop')['policy'])",
          server.admin_url,
        ],
        env: { CLIPPER_ADMIN_TOKEN: admin_token },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const refused = await client("not-the-token-0000");
    assert.ok(!refused.success);
    assert.match(new TextDecoder().decode(refused.stderr), /HTTP 401, unauthorized/);
    const accepted = await client(token);
    assert.ok(accepted.success, new TextDecoder().decode(accepted.stderr));
    assert.equal(new TextDecoder().decode(accepted.stdout).trim(), "default");
    const ping = await fetch(`${server.admin_url}/admin/ping`);
    assert.deepEqual([ping.status, await ping.text()], [200, "PONG"]);
  } finally {
    await server.stop();
    await Deno.remove(file);
  }
});
