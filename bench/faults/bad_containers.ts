/**
 * Faults from the model side: a container that sends garbage, one that stalls mid-frame holding a batch,
 * and one that answers the wrong number of outputs, each joining a model that a good container serves
 * under predict load. The good container's queries must all be answered; the bad one's at worst by the
 * default. Owns only these scenarios.
 */

import { stop } from "../lib/processes.ts";
import {
  Frontend,
  Load,
  type Query,
  Recorder,
  type Row,
  row,
  type ScenarioOptions,
  sleep,
  startContainer,
  sumQuery,
  waitServing,
} from "./lib.ts";

/** Load on a model served by a good container; `bad` joins at the fault and is killed afterwards. */
async function withBadPeer(
  o: ScenarioOptions,
  scenario: string,
  bad: string,
  setup: {
    model: string;
    input_type: string;
    /** A container target; absent: the recording sum model, which counts inputs it answered twice. */
    good?: string;
    query: (i: number) => Query;
    note?: string;
  },
): Promise<Row> {
  const f = await Frontend.start(o.log_dir);
  await f.deploy("a", setup.model, setup.input_type);
  const options = { model: setup.model, input_type: setup.input_type };
  const recorder = new Recorder(o.log_dir);
  if (setup.good) await startContainer(o.log_dir, "good", f.rpc_port, setup.good, options);
  else await recorder.start(f.rpc_port);
  await waitServing(f, 1, setup.query(0).input);
  const load = new Load(() => f.query_url, 8, "a", setup.query);
  await sleep(o.duration_millis / 2);
  const fault = performance.now();
  const peer = await startContainer(o.log_dir, "bad", f.rpc_port, bad, options);
  await sleep(o.duration_millis / 2);
  await load.stop();
  await stop(peer, 0);
  return row(scenario, load, {
    recover_millis: load.recoverMillis(fault),
    container_answered_twice: await recorder.answeredTwice(),
    note: setup.note,
  });
}

const sum = { model: "sum", input_type: "doubles", query: sumQuery };

export const garbageContainer = (o: ScenarioOptions) =>
  withBadPeer(o, "container sends garbage frames", "garbage.py", sum);

export const stallingContainer = (o: ScenarioOptions) =>
  withBadPeer(o, "container stalls mid-frame", "stalling.py", sum);

/** Strings: every fifth starts with "bad", which the contract breaker answers with no output at all. */
export const wrongOutputs = (o: ScenarioOptions) =>
  withBadPeer(o, "container answers wrong number of outputs", "tests/containers/contract_breaker.ts", {
    model: "words",
    input_type: "strings",
    good: "clipper_container.examples.sum",
    note: 'defaults are expected here: each batch the breaker gets with a "bad" input fails whole, so ' +
      "the time to recover is only that of the last such batch",
    query: (i) => {
      const input = `${i % 5 === 0 ? "bad" : "ok"}-${i}`;
      return { input, expect: String(input.length) };
    },
  });
