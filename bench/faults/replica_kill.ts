/**
 * Fault: kill -9 of one of two replicas while predict load keeps both busy (each batch takes 20 ms, so the
 * kill lands mid-batch). Its batch's queries go to the other replica, or get the default at once when no
 * round trip could answer them in time: no other query may get a default, and none may be lost or answered
 * twice. Owns only this scenario.
 */

import { stop } from "../lib/processes.ts";
import { Frontend, Load, Recorder, type Row, row, type ScenarioOptions, sleep, waitServing } from "./lib.ts";

/** Each batch takes this long in the container, so that a kill lands mid-batch. */
const BATCH_DELAY_SECONDS = 0.02;

export async function replicaKill(o: ScenarioOptions): Promise<Row> {
  const f = await Frontend.start(o.log_dir);
  await f.deploy();
  const recorder = new Recorder(o.log_dir);
  const doomed = await recorder.start(f.rpc_port, BATCH_DELAY_SECONDS);
  await recorder.start(f.rpc_port, BATCH_DELAY_SECONDS);
  await waitServing(f, 2);
  const load = new Load(() => f.query_url, 8);
  await sleep(o.duration_millis / 2);
  const fault = performance.now();
  doomed.child.kill("SIGKILL");
  await doomed.child.status;
  await stop(doomed);
  await sleep(o.duration_millis / 2);
  await load.stop();
  const metrics = await (await fetch(`${f.query_url}/metrics`)).json() as { core: Record<string, number> };
  const { queries_requeued: requeued = 0, queries_defaulted_on_replica_loss: defaulted = 0 } = metrics.core;
  return row("replica kill -9 mid-batch under predict load (2 replicas)", load, {
    recover_millis: load.recoverMillis(fault),
    container_answered_twice: await recorder.answeredTwice(),
    note:
      `queries in flight on the killed replica: ${requeued} requeued, ${defaulted} answered by default at once`,
    defaults_allowed: requeued + defaulted,
  });
}
