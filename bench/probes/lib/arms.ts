/**
 * The arms a probe alternates its loads between: a Clipper (this tree's, or another revision's built in a
 * temporary git worktree), the bare ceiling, or a server started by hand, each with optional busy loops
 * on the side or a reniced core thread. Owns parsing an arm's spec and starting and stopping what it
 * needs; must not generate load or read figures.
 *
 * Spec: `clipper`, `ceiling` or a base URL (`http://127.0.0.1:8000`), then comma-separated options:
 *   model=noop|logreg  the container (noop: the open-loop and model scenarios'; logreg: the batching one's)
 *   batch=N            the model's batch size (-1, adaptive, by default)
 *   slo=MICROS         the app's latency objective (100000 for noop, 20000 for logreg, as the scenarios)
 *   cache=BYTES        the prediction cache (0, off, by default: the probes measure the model path)
 *   sizing=aimd|quantile  how adaptive batches are sized (aimd by default)
 *   delay=MICROS       the model's batch delay (0 by default)
 *   threads=N          threads serving the query port (the frontend's default when absent)
 *   cpus=LIST          the frontend runs under `taskset -c LIST` (all CPUs by default)
 *   timed              the container runs under bench/probes/timed_container.py (thread time per step)
 *   rev=COMMIT         frontend, core, container library and model from COMMIT, built in a worktree
 *   python=COMMIT      only the container library from COMMIT (e.g. 672e271, the pyzmq one)
 *   renice=N           the core thread's nice value (a diagnosis: who waits when the core does not)
 *   spin=N             N busy loops at nice 19 while the load runs (keeps idle vCPUs from halting)
 *   name=LABEL         how the reports call the arm
 */

import { type Clipper, type ClipperOrigin, startCeiling, startClipper } from "../../lib/servers.ts";
import { spawn, type Started } from "../../lib/processes.ts";
import { threadTimes } from "../../lib/cpu.ts";
import { LOGREG_SETUP } from "../../scenarios/batching.ts";
import { NOOP_SETUP } from "../../scenarios/closed_loop.ts";

const root = new URL("../../..", import.meta.url).pathname;

export interface ArmSpec {
  readonly name: string;
  readonly server: "clipper" | "ceiling" | "url";
  readonly url?: string;
  readonly model: "noop" | "logreg";
  readonly batch_size: number;
  readonly slo_micros?: number;
  readonly cache_bytes: number;
  readonly sizing?: "aimd" | "quantile";
  readonly delay_micros?: number;
  readonly threads?: number;
  readonly cpus?: string;
  readonly timed: boolean;
  readonly rev?: string;
  readonly python_rev?: string;
  readonly renice?: number;
  readonly spin: number;
}

/** The options that take an integer, and the field each sets. */
const INTEGER_OPTIONS = {
  batch: "batch_size",
  slo: "slo_micros",
  cache: "cache_bytes",
  renice: "renice",
  spin: "spin",
  delay: "delay_micros",
  threads: "threads",
} as const;

function integer(key: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n)) throw new Error(`Arm option ${key} needs an integer`);
  return n;
}

export function parseArm(spec: string): ArmSpec {
  const [first, ...options] = spec.split(",");
  const server = first === "clipper" || first === "ceiling" ? first : "url";
  if (server === "url" && !/^https?:\/\//.test(first ?? "")) {
    throw new Error(`An arm starts with clipper, ceiling or a URL, not "${first}"`);
  }
  let arm: ArmSpec = {
    name: spec,
    server,
    url: server === "url" ? first!.replace(/\/$/, "") : undefined,
    model: "noop",
    batch_size: -1,
    cache_bytes: 0,
    timed: false,
    spin: 0,
  };
  for (const option of options) {
    const [key, value] = option.split("=", 2) as [string, string | undefined];
    if (Object.hasOwn(INTEGER_OPTIONS, key)) {
      arm = { ...arm, [INTEGER_OPTIONS[key as keyof typeof INTEGER_OPTIONS]]: integer(key, value) };
      continue;
    }
    switch (key) {
      case "model":
        if (value !== "noop" && value !== "logreg") {
          throw new Error(`model is noop or logreg, not "${value}"`);
        }
        arm = { ...arm, model: value };
        break;
      case "timed":
        arm = { ...arm, timed: true };
        break;
      case "sizing":
        if (value !== "aimd" && value !== "quantile") {
          throw new Error(`sizing is aimd or quantile, not "${value}"`);
        }
        arm = { ...arm, sizing: value };
        break;
      case "cpus":
        if (!value || !/^[0-9,-]+$/.test(value)) {
          throw new Error(`cpus is a CPU list like 0 or 0-1, not "${value}"`);
        }
        arm = { ...arm, cpus: value };
        break;
      case "rev":
      case "python":
        if (!value) throw new Error(`Arm option ${key} needs a commit`);
        arm = key === "rev" ? { ...arm, rev: value } : { ...arm, python_rev: value };
        break;
      case "name":
        arm = { ...arm, name: value ?? spec };
        break;
      default:
        throw new Error(`Unknown arm option "${key}" in "${spec}"`);
    }
  }
  const clipperOnly = arm.timed || arm.rev || arm.python_rev || arm.renice !== undefined || arm.sizing ||
    arm.delay_micros !== undefined || arm.threads !== undefined || arm.cpus;
  if (server !== "clipper" && clipperOnly) {
    throw new Error(
      `timed, rev, python, renice, sizing, delay, threads and cpus apply to a clipper arm only ("${spec}")`,
    );
  }
  return arm;
}

/** A git worktree of `commit` under /tmp, kept for the next probe (building it takes minutes); with
 * `build`, its native core is built there, logging to `build.log_dir`. Returns the tree's path, ending in
 * "/". */
export async function revisionTree(commit: string, build?: { log_dir: string }): Promise<string> {
  const git = async (args: string[], cwd = root) => {
    const out = await new Deno.Command("git", { args, cwd, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    return text;
  };
  const sha = await git(["rev-parse", "--short=12", `${commit}^{commit}`]);
  const dir = `/tmp/clipper-rev-${sha}/`;
  const exists = async (path: string) => {
    try {
      await Deno.stat(path);
      return true;
    } catch {
      return false;
    }
  };
  if (!await exists(dir)) {
    await git(["worktree", "add", "--detach", dir, sha]);
    // The tree's Python is this tree's .venv (its packages serve every revision of the day).
    await Deno.symlink(await Deno.realPath(`${root}.venv`), `${dir}.venv`);
    console.error(`probe: worktree of ${commit} at ${dir} (remove with: git worktree remove --force ${dir})`);
  }
  if (build && !await exists(`${dir}native/target/release/libclipper_core.so`)) {
    console.error(`probe: building ${commit}'s native core in ${dir} (a few minutes)`);
    const log = `${build.log_dir}/build-${sha}.log`;
    const out = await new Deno.Command("cargo", {
      args: ["build", "--release", "--manifest-path", `${dir}native/Cargo.toml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    await Deno.writeFile(log, new Uint8Array([...out.stdout, ...out.stderr]));
    if (!out.success) throw new Error(`Building ${commit} failed; see ${log}`);
  }
  return dir;
}

/** A started arm: where to send load, and the processes whose threads the probe accounts for. */
export interface RunningArm {
  readonly spec: ArmSpec;
  /** Base URL; every server answers predictions at `${url}/bench/predict`. */
  readonly url: string;
  readonly processes: readonly { role: string; pid: number }[];
  readonly clipper?: Clipper;
  /** The frontend's core thread (its engine, HTTP front and RPC socket), for schedstat. */
  readonly core_tid?: number;
  /** Where the timed container writes its step times when it stops. */
  readonly steps_file?: string;
  readonly commands: readonly string[];
}

/** Starts an arm's servers (not its busy loops: see `startSpin`); `stopAll` stops them. */
export async function startArm(spec: ArmSpec, log_dir: string, round: number): Promise<RunningArm> {
  if (spec.server === "url") return { spec, url: spec.url!, processes: [], commands: [] };
  if (spec.server === "ceiling") {
    const { url, server } = await startCeiling(log_dir);
    return {
      spec,
      url,
      processes: [{ role: "ceiling", pid: server.pid }],
      commands: ["deno run --allow-net bench/ceiling.ts PORT"],
    };
  }
  const tree = spec.rev ? await revisionTree(spec.rev, { log_dir }) : root;
  const python = spec.python_rev ? await revisionTree(spec.python_rev) : tree;
  const base = spec.model === "noop" ? NOOP_SETUP : LOGREG_SETUP;
  const model = spec.model === "noop" ? base.container : [`${tree}bench/models/logreg.py`];
  const steps_file = spec.timed
    ? `${log_dir}/steps-${spec.name.replace(/\W+/g, "_")}-${round}.json`
    : undefined;
  const origin: ClipperOrigin = {
    tree,
    // The container library of `python`'s tree, ahead of the one .venv was set up with.
    container_env: {
      PYTHONPATH: `${python}containers/python`,
      ...(steps_file ? { CLIPPER_PROBE_STEPS: steps_file } : {}),
    },
  };
  const clipper = await startClipper(
    {
      ...base,
      container: spec.timed ? [`${root}bench/probes/timed_container.py`, ...model] : model,
      batch_size: spec.batch_size,
      batching: spec.sizing,
      batch_delay_micros: spec.delay_micros,
      threads: spec.threads,
      cpus: spec.cpus,
      latency_slo_micros: spec.slo_micros ?? base.latency_slo_micros,
      prediction_cache_bytes: spec.cache_bytes,
    },
    log_dir,
    origin,
  );
  const core_tid = (await threadTimes(clipper.frontend.pid)).find((t) => t.name === "clipper-core")?.tid;
  if (spec.renice !== undefined) {
    if (core_tid === undefined) throw new Error("renice: the frontend has no clipper-core thread");
    const out = await new Deno.Command("renice", {
      args: ["-n", String(spec.renice), "-p", String(core_tid)],
    })
      .output();
    if (!out.success) throw new Error(`renice of the core thread ${core_tid} failed`);
  }
  return {
    spec,
    url: clipper.url,
    processes: [{ role: "frontend", pid: clipper.frontend.pid }, {
      role: "container",
      pid: clipper.container.pid,
    }],
    clipper,
    core_tid,
    steps_file,
    commands: clipper.commands,
  };
}

/** Starts the arm's busy loops, at the lowest priority so they only take CPU nothing else wants; `stopAll`
 * stops them. */
export function startSpin(spec: ArmSpec, log_dir: string): Promise<Started[]> {
  return Promise.all(
    Array.from(
      { length: spec.spin },
      (_, i) =>
        spawn(`spin${i}`, "nice", ["-n", "19", "sh", "-c", "while :; do :; done"], {
          log_path: `${log_dir}/spin.log`,
        }),
    ),
  );
}
