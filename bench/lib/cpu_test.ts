import assert from "node:assert/strict";
import {
  accounted,
  idleCores,
  parseChildrenSeconds,
  parseCommand,
  parseMachineTicks,
  parseOwnSeconds,
  parseSchedstat,
  threadTimes,
} from "./cpu.ts";

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

Deno.test("a thread's own CPU and name are read around a name with spaces and parentheses", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  // utime (14th) and stime (15th) hold 14 and 15 here: 29 ticks.
  fields[0] = "S";
  const stat = `4243 (tokio (rt) w) ${fields.join(" ")}`;
  assert.equal(parseOwnSeconds(stat), 0.29);
  assert.equal(parseCommand(stat), "tokio (rt) w");
  assert.throws(() => parseCommand("no name here"), /Not a \/proc\/PID\/stat text/);
});

Deno.test("a thread's schedstat gives seconds on a CPU, seconds waiting runnable and timeslices", () => {
  assert.deepEqual(parseSchedstat("4000000000 1650000000 34000\n"), {
    run_s: 4,
    wait_s: 1.65,
    timeslices: 34000,
  });
  assert.throws(() => parseSchedstat("1 2\n"), /Not a schedstat text/);
});

Deno.test("this process's threads are listed with their names and CPU", async () => {
  const threads = await threadTimes(Deno.pid);
  const main = threads.find((t) => t.tid === Deno.pid);
  assert.ok(main, `no thread ${Deno.pid} among ${JSON.stringify(threads)}`);
  assert.ok(main.seconds >= 0 && main.name.length > 0);
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
