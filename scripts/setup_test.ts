import assert from "node:assert/strict";
import { ensure, type Machine, pythonPackages, refusal, SetupError, type Step, STEPS } from "./setup.ts";

const machine = (over: Partial<Machine> = {}): Machine => ({
  root: true,
  apt: true,
  passwordless_sudo: false,
  cargo: true,
  python3: true,
  ...over,
});

/** A step that records its installs, so `ensure`'s decisions are seen without installing anything. */
function recorded(name: string, installed: boolean, log: string[], blockedBy?: string): Step {
  return {
    name,
    needed_by: "a test",
    done: () => Promise.resolve(installed),
    blocked: () => blockedBy,
    install: () => {
      log.push(name);
      return Promise.resolve();
    },
    manual: `install ${name} by hand`,
  };
}

Deno.test("Debian packages install as root or through passwordless sudo, and are refused otherwise", () => {
  const wrk = [STEPS.wrk];
  assert.equal(refusal(wrk, machine()), undefined);
  assert.equal(refusal(wrk, machine({ root: false, passwordless_sudo: true })), undefined);
  const asUser = refusal(wrk, machine({ root: false }));
  assert.match(asUser!, /wrk \(for .*\): installing Debian packages needs root or passwordless sudo/);
  assert.match(asUser!, /sudo apt-get install wrk/);
  assert.match(refusal(wrk, machine({ apt: false }))!, /this machine has no apt-get/);
});

Deno.test("a refusal names every step that cannot be installed, with the command that installs it", () => {
  const text = refusal(
    [STEPS["redis-server"], STEPS.oha, STEPS.python],
    machine({ apt: false, cargo: false }),
  )!;
  assert.match(text, /nothing was installed and nothing was run/);
  assert.match(text, /redis-server .*no apt-get/);
  assert.match(text, /oha .*cargo is not on PATH\. Install it with:\n {4}cargo install oha --locked/);
  assert.doesNotMatch(text, /- python/, "python3 is there, so the Python step can install itself");
});

Deno.test("ensure installs only the missing steps, in order", async () => {
  const log: string[] = [];
  await ensure([recorded("a", false, log), recorded("b", true, log), recorded("c", false, log)], machine());
  assert.deepEqual(log, ["a", "c"]);
});

Deno.test("ensure installs nothing when any missing step cannot be installed here", async () => {
  const log: string[] = [];
  const steps = [recorded("a", false, log), recorded("b", false, log, "no way here")];
  await assert.rejects(ensure(steps, machine()), (err: Error) => {
    assert.ok(err instanceof SetupError);
    assert.match(err.message, /- b \(for a test\): no way here\. Install it with:\n {4}install b by hand/);
    return true;
  });
  assert.deepEqual(log, []);
});

Deno.test("a Python step is done once installed, and again missing when what it installs from changes", async () => {
  const venv = await Deno.makeTempDir({ prefix: "clipper-setup-" });
  const input = await Deno.makeTempFile({ dir: new URL("..", import.meta.url).pathname, suffix: ".txt" });
  const relative = input.slice(new URL("..", import.meta.url).pathname.length);
  try {
    // An environment whose Python (and so its pip) answers: installing nothing needs neither venv nor network.
    await Deno.mkdir(`${venv}/bin`);
    await Deno.writeTextFile(`${venv}/bin/python`, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const step = pythonPackages("probe", "a test", venv, [], [relative]);
    assert.equal(await step.done(), false);
    await step.install(machine());
    assert.equal(await step.done(), true);
    await Deno.writeTextFile(input, "changed");
    assert.equal(await step.done(), false);
  } finally {
    await Deno.remove(venv, { recursive: true });
    await Deno.remove(input);
  }
});
