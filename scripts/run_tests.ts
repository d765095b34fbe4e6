/**
 * `deno task test`: runs every suite (Rust core, Deno unit and integration tests, Python container
 * library) and ends with one summary line `N passed, N failed` across all of them. Exits non-zero when any
 * suite fails or cannot run.
 *
 * First it sets up what the suites need (`scripts/setup.ts`, the `test` profile), and stops before running
 * anything when that cannot be done here. A suite that ran no test fails, as does one that exits non-zero
 * without a count of failures (a crash, a compile error).
 */

import { cargoCounts, denoCounts, pytestCounts } from "./counts.ts";
import { ensureOrExit, PYTHON as python } from "./setup.ts";

const root = new URL("..", import.meta.url).pathname;

interface Suite {
  readonly name: string;
  readonly cmd: string[];
  /** Reads (passed, failed) from the suite's output; absent for a static check, which counts as one test. */
  readonly count?: (output: string) => [number, number];
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
    count: cargoCounts,
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
      `${root}scripts`,
    ],
    count: denoCounts,
  },
  {
    name: "python",
    cmd: [python, "-m", "pytest", "-q", `${root}containers/python`],
    count: pytestCounts,
  },
];

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
  // A suite that exits non-zero without counting a failure (a crash, a compile error), or that ran no test
  // at all, counts as one failure.
  const ok = status.success && passed + failed > 0;
  return { passed, failed: ok ? failed : Math.max(failed, 1), ok };
}

await ensureOrExit(["test"]);
let passed = 0, failed = 0;
const lines: string[] = [];
for (const suite of suites) {
  const r = await run(suite);
  passed += r.passed;
  failed += r.failed;
  lines.push(
    `suite ${suite.name}: ${r.passed} passed, ${r.failed} failed${
      r.ok ? "" : " (exited non-zero or ran no test)"
    }`,
  );
}
console.log(`\n${lines.join("\n")}\n${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 && passed > 0 ? 0 : 1);
