import assert from "node:assert/strict";
import { accounted, idleCores, parseChildrenSeconds, parseMachineTicks } from "./cpu.ts";

Deno.test("the machine's idle share counts idle and iowait against every state but guests", () => {
  const stat = "cpu  100 5 40 800 20 0 30 5 7 0\ncpu0 50 2 20 400 10 0 15 2 3 0\nintr 1\n";
  assert.deepEqual(parseMachineTicks(stat), { idle: 820, total: 1000 });
  assert.equal(idleCores({ idle: 0, total: 0 }, { idle: 820, total: 1000 }, 2), 1.64);
  assert.throws(() => parseMachineTicks("intr 1\n"), /Not a \/proc\/stat text/);
});

Deno.test("children's CPU is read after the command name, even one with spaces and parentheses", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  // State is the 3rd field; cutime (16th) and cstime (17th) hold 16 and 17 here: 33 ticks.
  fields[0] = "S";
  const stat = `4242 (deno (a) b) ${fields.join(" ")}`;
  assert.equal(parseChildrenSeconds(stat), 0.33);
  assert.throws(() => parseChildrenSeconds("4242 (x)"), /Not a \/proc\/PID\/stat text/);
});

Deno.test("a child's CPU is charged to the run that waited for it", async () => {
  // A child that spins for a fraction of a second: its CPU must show up, however the machine is loaded.
  const spin = "const end = performance.now() + 300; while (performance.now() < end);";
  const { result, generator_cores, idle_cores } = await accounted(() =>
    new Deno.Command(Deno.execPath(), { args: ["eval", spin] }).output()
  );
  assert.ok(result.success);
  assert.ok(generator_cores > 0, `generator_cores: ${generator_cores}`);
  assert.ok(idle_cores >= 0 && idle_cores <= navigator.hardwareConcurrency, `idle_cores: ${idle_cores}`);
});
