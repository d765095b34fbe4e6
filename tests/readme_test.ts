/**
 * The README's quick start and its model-selection example, run as a reader runs them: their shell blocks,
 * read from README.md, one after the other in one bash, with the real `deno task serve` and real Python
 * containers on the default ports. Where this runs as root it gets a network namespace of its own, so its
 * ports cannot meet another server's; elsewhere it needs the default ports free. Every answer the blocks'
 * comments promise must be a line the reader sees, in that order (query ids aside, which count every query
 * made before).
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

/** The first `sh` block after a heading. */
export function shellBlock(markdown: string, heading: string): string {
  const at = markdown.split("\n").indexOf(heading);
  const block = at < 0 ? null : /```sh\n([\s\S]*?)```/.exec(markdown.split("\n").slice(at).join("\n"));
  if (!block) throw new Error(`README.md has no sh block under "${heading}"`);
  return block[1]!;
}

/** The JSON answers the block's comments promise, in order (`... # {"query_id":1,...}`). */
export function promisedAnswers(block: string): string[] {
  return block.split("\n").flatMap((line) => {
    const comment = /\s#\s+(\{.*\})\s*$/.exec(line);
    return comment ? [comment[1]!] : [];
  });
}

async function succeeds(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

Deno.test("the quick start's block and its promised answers are read from the README", () => {
  const block = 'x\n```sh\ncurl a   # {"a":1}\necho # not json\ncurl b # {"b":2}\n```\n';
  assert.equal(shellBlock(`## Quick start\n${block}`, "## Quick start").split("\n").length, 4);
  assert.deepEqual(promisedAnswers(shellBlock(`## Quick start\n${block}`, "## Quick start")), [
    '{"a":1}',
    '{"b":2}',
  ]);
  assert.throws(() => shellBlock("## Other\n", "## Quick start"), /no sh block/);
});

/** The lines of `seen` that are `promised`, in order; query ids read as 0. */
export function keptPromises(promised: readonly string[], seen: readonly string[]): string[] {
  const anyId = (line: string) => line.replace(/"query_id":\d+/g, '"query_id":0');
  const kept: string[] = [];
  let next = 0;
  for (const line of seen.map(anyId)) {
    if (next < promised.length && line === anyId(promised[next]!)) {
      kept.push(promised[next]!);
      next += 1;
    }
  }
  return kept;
}

Deno.test("promises are kept by the lines seen in their order, whatever the query ids", () => {
  const promised = ['{"query_id":1,"a":1}', '{"b":2}'];
  assert.deepEqual(keptPromises(promised, ["x", '{"query_id":7,"a":1}', "y", '{"b":2}']), promised);
  assert.deepEqual(keptPromises(promised, ['{"b":2}', '{"query_id":7,"a":1}']), [promised[0]]);
  assert.deepEqual(keptPromises(promised, ['{"query_id":7,"a":2}', '{"b":2}']), []);
});

/** Waits until no process is left in the group, killing it outright after ten seconds. */
async function groupExited(pgid: number): Promise<void> {
  const killAt = Date.now() + 10_000;
  for (;;) {
    try {
      Deno.kill(-pgid, Date.now() < killAt ? "SIGCONT" : "SIGKILL");
    } catch {
      return; // No process is left in the group.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("the README's quick start and model-selection example run verbatim and answer what their comments say", async () => {
  const readme = await Deno.readTextFile(`${root}README.md`);
  const block = [shellBlock(readme, "## Quick start"), shellBlock(readme, "## Model selection")].join("\n");
  const promised = promisedAnswers(block);
  assert.ok(promised.length >= 4, "the blocks promise their answers");
  const isolated = await succeeds("unshare", ["-n", "true"]);
  // The marker ends the reading when the block ends, however it ends: its background jobs keep stdout open.
  const END = "quick start ended";
  const script = (isolated ? "ip link set lo up\n" : "") + `trap 'echo ${END}' EXIT\nset -e\n${block}`;
  const state = await Deno.makeTempDir({ prefix: "clipper-readme-" });
  // setsid: the block's background jobs (the server, the container) share one process group to stop.
  const child = new Deno.Command("setsid", {
    args: [...(isolated ? ["unshare", "-n"] : []), "bash", "-c", script],
    cwd: root,
    env: { CLIPPER_STATE_DIR: state },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => Deno.kill(-child.pid, "SIGKILL"), 240_000);
  const lines: string[] = [];
  const decoder = new TextDecoderStream();
  let pending = "";
  try {
    for await (const chunk of child.stdout.pipeThrough(decoder)) {
      pending += chunk;
      const parts = pending.split("\n");
      pending = parts.pop()!;
      lines.push(...parts);
      if (parts.includes(END)) break;
    }
  } finally {
    clearTimeout(timer);
    try {
      Deno.kill(-child.pid, "SIGTERM");
    } catch {
      // The group is gone already.
    }
    await child.status;
    // The shell is gone, but the server it started may still be writing its state as it stops.
    await groupExited(child.pid);
    await Deno.remove(state, { recursive: true });
  }
  assert.deepEqual(keptPromises(promised, lines), promised, lines.join("\n"));
  assert.ok(lines.includes("PONG"), lines.join("\n"));
  assert.ok(!lines.some((l) => l.includes('"error"')), lines.join("\n"));
});
