/**
 * Reading a test runner's closing lines into (passed, failed), for `scripts/run_tests.ts`'s one summary line.
 * Owns the formats of cargo test, deno test and pytest; a test that errors counts as failed.
 */

export type Counts = [passed: number, failed: number];

// deno-lint-ignore no-control-regex
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

function sum(output: string, re: RegExp): Counts {
  let passed = 0, failed = 0;
  for (const m of strip(output).matchAll(re)) {
    passed += Number(m[1]);
    failed += Number(m[2]);
  }
  return [passed, failed];
}

/** cargo test prints one `test result:` line per test binary. */
export const cargoCounts = (output: string): Counts =>
  sum(output, /test result: \w+\. (\d+) passed; (\d+) failed/g);

/** deno test prints one closing line per run (`ok | 3 passed (2 steps) | 0 failed`). */
export const denoCounts = (output: string): Counts =>
  sum(output, /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g);

/** pytest's last summary line (`1 failed, 3 passed, 2 errors in 0.5s`); errors (in a fixture, or at
 * collection) count as failures. */
export function pytestCounts(output: string): Counts {
  const line = strip(output).split("\n").reverse().find((l) => /\d+ (passed|failed|errors?)\b/.test(l)) ?? "";
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}\\b`).exec(line)?.[1] ?? 0);
  return [count("passed"), count("failed") + count("errors?")];
}
