import assert from "node:assert/strict";
import { readLogTail, RotatingLog } from "./log_file.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Lines `from..to` (exclusive), each "line N\n" padded to 10 bytes. */
function lines(from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += `line ${String(i).padStart(4, "0")}\n`;
  return text;
}

async function withDir(body: (dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "clipper-log-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a log past its bound rotates, keeps its newest files within the bound, and drops the oldest", async () => {
  await withDir((dir) => {
    const path = `${dir}/m-1-0.log`;
    const log = new RotatingLog(path, 100, 3);
    for (let i = 0; i < 50; i++) log.write(encoder.encode(lines(i, i + 1)));
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(files, ["m-1-0.log", "m-1-0.log.1", "m-1-0.log.2"]);
    for (const name of files) assert.ok(Deno.statSync(`${dir}/${name}`).size <= 100, name);
    // Ten 10-byte lines a file: the newest 30 lines survive, in order across the files.
    assert.equal(
      Deno.readTextFileSync(`${path}.2`) + Deno.readTextFileSync(`${path}.1`) + Deno.readTextFileSync(path),
      lines(20, 50),
    );
  });
});

Deno.test("reading a rotated log returns its tail across the files, oldest first", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/m-1-0.log`;
    const log = new RotatingLog(path, 100, 3);
    for (let i = 0; i < 25; i++) log.write(encoder.encode(lines(i, i + 1)));
    assert.equal(decoder.decode(await readLogTail(path, 1000)), lines(0, 25));
    assert.equal(decoder.decode(await readLogTail(path, 120)), lines(13, 25));
  });
});

Deno.test("a log reopened after a restart continues its size, and one file kept starts again at the bound", async () => {
  await withDir((dir) => {
    const path = `${dir}/m-1-0.log`;
    new RotatingLog(path, 100, 1).write(encoder.encode(lines(0, 9)));
    const reopened = new RotatingLog(path, 100, 1);
    reopened.write(encoder.encode(lines(9, 10)));
    assert.equal(Deno.readTextFileSync(path), lines(0, 10));
    reopened.write(encoder.encode(lines(10, 11)));
    assert.equal(Deno.readTextFileSync(path), lines(10, 11));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["m-1-0.log"]);
  });
});

Deno.test("a missing log reads as empty", async () => {
  await withDir(async (dir) => {
    assert.equal((await readLogTail(`${dir}/none.log`, 100)).length, 0);
  });
});
