/**
 * Fault: clients that hang up mid-request, while normal predict queries run: one that sends half of a
 * predict body then closes, and one that sends a whole predict then closes before the answer. The server
 * must keep answering everyone else. Owns only this scenario and its rude clients.
 */

import { Frontend, Load, row, type Row, type ScenarioOptions, sleep, startContainer, waitServing } from "./lib.ts";

async function hangUp(port: number, request: string): Promise<void> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(request));
    conn.close();
  } catch {
    // refused or reset: nothing to count, the load's queries tell whether the server suffered
  }
}

export async function clientDisconnect(o: ScenarioOptions): Promise<Row> {
  const f = await Frontend.start(o.log_dir);
  await f.deploy();
  await startContainer(o.log_dir, "replica-0", f.rpc_port, "clipper_container.examples.sum");
  await waitServing(f, 1);
  const load = new Load(() => f.query_url, 8);
  await sleep(o.duration_millis / 3);
  const fault = performance.now();
  const port = Number(new URL(f.query_url).port);
  const body = JSON.stringify({ input: [1, 2, 3] });
  const head = (length: number) =>
    `POST /a/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const until = performance.now() + (o.duration_millis * 2) / 3;
  let rude = 0;
  while (performance.now() < until) {
    await Promise.all([
      hangUp(port, head(body.length) + body.slice(0, body.length / 2)),
      hangUp(port, head(body.length) + body),
    ]);
    rude += 2;
    await sleep(10);
  }
  await load.stop();
  return row(
    "clients hang up mid-body and before the answer",
    load,
    load.recoverMillis(fault),
    undefined,
    `${rude} rude connections`,
  );
}
