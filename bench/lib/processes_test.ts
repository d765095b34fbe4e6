import assert from "node:assert/strict";
import { spawn, stop } from "./processes.ts";

Deno.test("a started process's stdout and stderr both reach its log, and a chatty one never blocks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "clipper-bench-log-" });
  try {
    // 1 MiB on each stream: far past a pipe's buffer, so an undrained stream would block the child.
    const code =
      "import sys\nfor _ in range(1024): sys.stdout.write('o' * 1023 + '\\n'); sys.stderr.write('e' * 1023 + '\\n')";
    const child = await spawn("chatty", "python3", ["-c", code], { log_path: `${dir}/chatty.log` });
    const status = await Promise.race([
      child.child.status,
      new Promise<null>((resolve) => setTimeout(() => resolve(null), 30_000)),
    ]);
    if (status === null) await stop(child);
    assert.ok(status?.success, "the child ran to its end");
    const log = await Deno.readTextFile(`${dir}/chatty.log`);
    assert.equal(log.split("\n").filter((l) => l.startsWith("o")).length, 1024);
    assert.equal(log.split("\n").filter((l) => l.startsWith("e")).length, 1024);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
