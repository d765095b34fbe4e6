/**
 * Runs a command in a git worktree of an earlier revision, for figures measured with code that has since
 * left the tree (vegeta's harness, the core before 3c9ac14): typically that revision's own harness, as in
 * `deno run --allow-all bench/probes/at_revision.ts 14b0183 deno task bench openloop`. The worktree is the
 * one a `rev=` arm of bench/probes/alternate.ts uses (/tmp/clipper-rev-<commit>, with this tree's .venv),
 * made when missing and kept for the next run; its results stay under its own bench/results/.
 *
 * Usage: deno run --allow-all bench/probes/at_revision.ts COMMIT COMMAND [ARGS...]
 */

import { revisionTree } from "./lib/arms.ts";

const [commit, cmd, ...args] = Deno.args;
if (!commit || !cmd) {
  console.error("Usage: deno run --allow-all bench/probes/at_revision.ts COMMIT COMMAND [ARGS...]");
  Deno.exit(2);
}
// The revision's own tasks build its native core; nothing is built here.
const tree = await revisionTree(commit);
console.error(`at_revision: running in ${tree}: ${cmd} ${args.join(" ")}`);
const { code } = await new Deno.Command(cmd, { args, cwd: tree, stdin: "inherit" }).spawn().status;
Deno.exit(code);
