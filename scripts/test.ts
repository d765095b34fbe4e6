/**
 * `deno task test`: runs every suite (Rust core, Deno unit and integration tests, Python container
 * library) and ends with one summary line `N passed, N failed` across all of them. Exits non-zero when any
 * suite fails or cannot run.
 *
 * Python comes from `.venv` (made by `scripts/setup_python.sh`, which this runs when the venv is missing or
 * was made by an older version of the script).
 */

const root = new URL("..", import.meta.url).pathname;
const python = `${root}.venv/bin/python`;

interface Suite {
  readonly name: string;
  readonly cmd: string[];
  /** Reads (passed, failed) from the suite's output; absent for a static check, which counts as one test. */
  readonly count?: (output: string) => [number, number];
}

// deno-lint-ignore no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function sum(output: string, re: RegExp, passedGroup: number, failedGroup: number): [number, number] {
  let passed = 0, failed = 0;
  for (const m of strip(output).matchAll(re)) {
    passed += Number(m[passedGroup] ?? 0);
    failed += Number(m[failedGroup] ?? 0);
  }
  return [passed, failed];
}

function check(name: string, cmd: string[]): Suite {
  return { name, cmd };
}

const suites: Suite[] = [
  check("rustfmt", ["cargo", "fmt", "--manifest-path", `${root}native/Cargo.toml`, "--check"]),
  check("clippy", [
    "cargo",
    "clippy",
    "--release",
    "--all-targets",
    "--manifest-path",
    `${root}native/Cargo.toml`,
    "--",
    "-D",
    "warnings",
  ]),
  check("deno check", [
    Deno.execPath(),
    "check",
    `${root}src`,
    `${root}tests`,
    `${root}scripts`,
    `${root}bench`,
  ]),
  check("deno lint", [Deno.execPath(), "lint", root]),
  check("deno fmt", [Deno.execPath(), "fmt", "--check", root]),
  // Docker and Kubernetes cannot run here: the images and manifests are linted and schema-checked.
  check("hadolint", [
    `${root}.venv/bin/hadolint`,
    "--config",
    `${root}containers/docker/.hadolint.yaml`,
    ...[...Deno.readDirSync(`${root}containers/docker`)].filter((e) => e.name.endsWith(".Dockerfile"))
      .map((e) => `${root}containers/docker/${e.name}`),
  ]),
  check("kubernetes-validate", [
    `${root}.venv/bin/kubernetes-validate`,
    "--strict",
    ...[...Deno.readDirSync(`${root}containers/kubernetes`)].filter((e) => e.name.endsWith(".yaml"))
      .map((e) => `${root}containers/kubernetes/${e.name}`),
  ]),
  {
    name: "rust",
    cmd: ["cargo", "test", "--release", "--manifest-path", `${root}native/Cargo.toml`],
    count: (out) => sum(out, /test result: \w+\. (\d+) passed; (\d+) failed/g, 1, 2),
  },
  {
    name: "deno",
    cmd: [
      Deno.execPath(),
      "test",
      "--allow-all",
      "--parallel",
      `${root}src`,
      `${root}tests`,
      `${root}bench`,
      `${root}containers/deno`,
    ],
    count: (out) => sum(out, /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g, 1, 2),
  },
  {
    name: "python",
    cmd: [python, "-m", "pytest", "-q", `${root}containers/python`],
    count: (out) => {
      const line = strip(out).split("\n").reverse().find((l) => /\d+ (passed|failed)/.test(l)) ?? "";
      return [
        Number(/(\d+) passed/.exec(line)?.[1] ?? 0),
        Number(/(\d+) failed|(\d+) error/.exec(line)?.[1] ?? 0),
      ];
    },
  },
];

/** Written by scripts/setup_python.sh when it finishes; its name changes when the environment's contents do. */
const SETUP_STAMP = `${root}.venv/clipper-setup-3`;

async function ensurePython(): Promise<void> {
  try {
    await Deno.stat(SETUP_STAMP);
  } catch {
    const setup = new Deno.Command("bash", {
      args: [`${root}scripts/setup_python.sh`],
      stdout: "inherit",
      stderr: "inherit",
    });
    if (!(await setup.output()).success) throw new Error("Setting up the Python environment failed");
  }
}

async function run(suite: Suite): Promise<{ passed: number; failed: number; ok: boolean }> {
  console.log(`\n=== ${suite.name}: ${suite.cmd.join(" ")}`);
  const child = new Deno.Command(suite.cmd[0]!, {
    args: suite.cmd.slice(1),
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { CLIPPER_PYTHON: python },
  }).spawn();
  const decoder = new TextDecoder();
  let output = "";
  const pump = async (stream: ReadableStream<Uint8Array>, sink: typeof Deno.stdout) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      await sink.write(chunk);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout), pump(child.stderr, Deno.stderr)]);
  const status = await child.status;
  if (!suite.count) {
    return { passed: status.success ? 1 : 0, failed: status.success ? 0 : 1, ok: status.success };
  }
  const [passed, failed] = suite.count(output);
  // A suite that exits non-zero without counting a failure (a crash, a compile error) counts as one.
  return { passed, failed: status.success ? failed : Math.max(failed, 1), ok: status.success };
}

await ensurePython();
let passed = 0, failed = 0;
const lines: string[] = [];
for (const suite of suites) {
  const r = await run(suite);
  passed += r.passed;
  failed += r.failed;
  lines.push(
    `suite ${suite.name}: ${r.passed} passed, ${r.failed} failed${r.ok ? "" : " (suite exited non-zero)"}`,
  );
}
console.log(`\n${lines.join("\n")}\n${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
