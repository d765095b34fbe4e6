/**
 * Fault: clients that hang up mid-request, while normal predict queries run: one that sends half of a
 * predict body then closes, and one that sends a whole predict then closes before the answer. The server
 * must keep answering everyone else. Owns only this scenario and its rude clients.
 */

import { queryPortUnderLoad, type Row, row, type ScenarioOptions, sleep } from "./lib.ts";

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
  const { recorder, load, fault, port } = await queryPortUnderLoad(o);
  // Negative inputs: the load's are positive, so the recording container tells them apart.
  const body = (n: number) => JSON.stringify({ input: [-n - 1, 2, 3] });
  const head = (length: number) =>
    `POST /a/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const until = performance.now() + (o.duration_millis * 2) / 3;
  let rude = 0;
  while (performance.now() < until) {
    const [half, whole] = [body(rude), body(rude + 1)];
    await Promise.all([
      hangUp(port, head(half.length) + half.slice(0, half.length / 2)),
      hangUp(port, head(whole.length) + whole),
    ]);
    rude += 2;
    await sleep(10);
  }
  await load.stop();
  return row("clients hang up mid-body and before the answer", load, {
    recover_millis: load.recoverMillis(fault),
    container_answered_twice: await recorder.answeredTwice(),
    note: `${rude} rude connections`,
  });
}
