/**
 * Fault: kill -9 of the frontend during a stream of management writes (`add_app`), then a restart on the
 * same state dir. Every write acknowledged before the kill must be listed after the restart. Owns only
 * this scenario.
 */

import { Frontend, type Row, row, type ScenarioOptions, sleep, Writes } from "./lib.ts";

export async function frontendKill(o: ScenarioOptions): Promise<Row> {
  let frontend = await Frontend.start(o.log_dir);
  const writes = new Writes(() => frontend);
  await sleep(o.duration_millis / 2);
  const fault = performance.now();
  const old = frontend;
  await old.kill();
  frontend = await Frontend.start(o.log_dir, { state_dir: old.state_dir });
  const recover = performance.now() - fault;
  await sleep(o.duration_millis / 2);
  await writes.stop();
  return row("frontend kill -9 during add_app writes", null, {
    recover_millis: recover,
    writes: { acknowledged: writes.acknowledged.length, lost: await writes.lost(frontend) },
  });
}
