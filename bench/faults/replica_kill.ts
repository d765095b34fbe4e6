/**
 * Fault: kill -9 of one of two replicas while predict load is running (batches in flight). Its queries
 * may get the default; none may be lost. Owns only this scenario.
 */

import { stop } from "../lib/processes.ts";
import { Frontend, Load, row, type Row, type ScenarioOptions, sleep, startContainer, waitServing } from "./lib.ts";

export async function replicaKill(o: ScenarioOptions): Promise<Row> {
  const f = await Frontend.start(o.log_dir);
  await f.deploy();
  const doomed = await startContainer(o.log_dir, "replica-0", f.rpc_port, "clipper_container.examples.sum");
  await startContainer(o.log_dir, "replica-1", f.rpc_port, "clipper_container.examples.sum");
  await waitServing(f, 2);
  const load = new Load(() => f.query_url, 8);
  await sleep(o.duration_millis / 2);
  const fault = performance.now();
  doomed.child.kill("SIGKILL");
  await doomed.child.status;
  await stop(doomed);
  await sleep(o.duration_millis / 2);
  await load.stop();
  return row("replica kill -9 under predict load (2 replicas)", load, load.recoverMillis(fault));
}
