/**
 * Where a warm `deno task serve` spends its time before it answers: the task as a user runs it, timed to the
 * first answer of `/health` on the query port and of `/admin/ping`, and its three steps on their own (the
 * core's `cargo build`, which finds nothing to do; the setup check of `.venv`; the server from `deno run` to
 * its first answer). Warm means the core is built and `.venv` made: the first start builds both.
 *
 *     deno run --allow-all bench/probes/startup.ts [--runs N]
 *
 * Prints each figure's median, min and max over N runs (5 by default), in seconds.
 */

import { parseArgs } from "node:util";
import { freePort } from "../lib/processes.ts";
import { fmt } from "../lib/report.ts";

const root = new URL("../..", import.meta.url).pathname;

async function timed(cmd: string, args: string[]): Promise<number> {
  const started = performance.now();
  const out = await new Deno.Command(cmd, { args, cwd: root, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return (performance.now() - started) / 1000;
}

/** Seconds from spawning `args` (a serve command) until both ports answer; the process is then stopped. */
async function toFirstAnswer(cmd: string, args: string[]): Promise<number> {
  const [query, admin, rpc] = [freePort(), freePort(), freePort()];
  const state = await Deno.makeTempDir({ prefix: "clipper-startup-" });
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args: [...args, "--query-port", String(query), "--admin-port", String(admin), "--rpc-port", String(rpc)],
    cwd: root,
    env: { CLIPPER_STATE_DIR: state },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const answers = async (url: string) => {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  };
  try {
    for (;;) {
      if (
        await answers(`http://127.0.0.1:${query}/health`) &&
        await answers(`http://127.0.0.1:${admin}/admin/ping`)
      ) {
        return (performance.now() - started) / 1000;
      }
      if ((performance.now() - started) > 60_000) {
        throw new Error(`${cmd} ${args.join(" ")} did not answer in 60 s`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(state, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { runs: { type: "string", default: "5" } } });
  const runs = Number(values.runs);
  const deno = Deno.execPath();
  const figures: Record<string, () => Promise<number>> = {
    "deno task serve, to the first answer": () => toFirstAnswer(deno, ["task", "serve"]),
    "  cargo build (the core already built)": () =>
      timed("cargo", ["build", "--release", "--quiet", "--manifest-path", "native/Cargo.toml"]),
    "  scripts/setup.ts serve (.venv already made)": () =>
      timed(deno, ["run", "--allow-all", "scripts/setup.ts", "serve"]),
    "  deno run src/main.ts, to the first answer": () =>
      toFirstAnswer(deno, ["run", "--allow-all", "src/main.ts"]),
  };
  // Once each first, so the first run's cold caches (Deno's, the page cache) do not count.
  for (const measure of Object.values(figures)) await measure();
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    for (const [name, measure] of Object.entries(figures)) (samples[name] ??= []).push(await measure());
  }
  console.log(`warm start, seconds over ${runs} runs (median, min, max)`);
  for (const [name, xs] of Object.entries(samples)) {
    const sorted = [...xs].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`${name.padEnd(48)} ${fmt(median)}  ${fmt(sorted[0]!)}  ${fmt(sorted.at(-1)!)}`);
  }
}
