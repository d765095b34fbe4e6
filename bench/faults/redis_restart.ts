/**
 * Fault: the Redis store (`--redis`, no persistence) killed and restarted empty on the same port while
 * predict load and `add_app` writes run. Counts the queries and the acknowledged writes lost. Owns only
 * this scenario and the redis-server it starts.
 */

import { freePort, spawn, stop, waitUntil } from "../lib/processes.ts";
import {
  Frontend,
  Load,
  Recorder,
  type Row,
  row,
  type ScenarioOptions,
  sleep,
  waitServing,
  Writes,
} from "./lib.ts";

function startRedis(log_dir: string, port: number) {
  return spawn("redis", "redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
  ], { log_path: `${log_dir}/redis.log` });
}

async function redisUp(port: number): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("PING\r\n"));
    const buf = new Uint8Array(16);
    const n = await conn.read(buf);
    return new TextDecoder().decode(buf.subarray(0, n ?? 0)).startsWith("+PONG");
  } finally {
    conn.close();
  }
}

export async function redisRestart(o: ScenarioOptions): Promise<Row> {
  const port = freePort();
  let redis = await startRedis(o.log_dir, port);
  await waitUntil("redis", () => redisUp(port));
  const f = await Frontend.start(o.log_dir, { extra_args: ["--redis", `redis://127.0.0.1:${port}`] });
  await f.deploy();
  const recorder = new Recorder(o.log_dir);
  await recorder.start(f.rpc_port);
  await waitServing(f, 1);
  const load = new Load(() => f.query_url, 4);
  const writes = new Writes(() => f);
  await sleep(o.duration_millis / 2);
  const fault = performance.now();
  redis.child.kill("SIGKILL");
  await redis.child.status;
  await stop(redis);
  redis = await startRedis(o.log_dir, port);
  await waitUntil("redis again", () => redisUp(port));
  await sleep(o.duration_millis / 2);
  await Promise.all([load.stop(), writes.stop()]);
  return row("redis kill -9 and restart (empty) under load", load, {
    recover_millis: load.recoverMillis(fault),
    writes: { acknowledged: writes.acknowledged.length, lost: await writes.lost(f) },
    container_answered_twice: await recorder.answeredTwice(),
  });
}
