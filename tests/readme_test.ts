/**
 * The README's quick start, run as a reader runs it: its shell block, read from README.md, in one bash, with
 * the real `deno task serve` and a real Python container on the default ports. Where this runs as root it
 * gets a network namespace of its own, so its ports cannot meet another server's; elsewhere it needs the
 * default ports free. Every answer the block's comments promise must be the line the reader sees.
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

Deno.test("the README's quick start runs verbatim and answers what its comments say", async () => {
  const block = shellBlock(await Deno.readTextFile(`${root}README.md`), "## Quick start");
  const promised = promisedAnswers(block);
  assert.ok(promised.length >= 2, "the quick start promises its predictions' answers");
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
    await Deno.remove(state, { recursive: true });
  }
  assert.deepEqual(lines.filter((l) => l.startsWith('{"query_id"')), promised, lines.join("\n"));
  assert.ok(lines.includes("PONG"), lines.join("\n"));
  assert.ok(!lines.some((l) => l.includes('"error"')), lines.join("\n"));
});
