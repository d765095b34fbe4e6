/**
 * Fault: a slowloris attack, hundreds of connections to the query port each trickling a request's bytes
 * (a header line every 200 ms, never finishing), while normal predict queries run. Owns only this
 * scenario and its attacking connections.
 */

import { queryPortUnderLoad, type Row, row, type ScenarioOptions, sleep } from "./lib.ts";

const CONNECTIONS = 300;

export async function slowloris(o: ScenarioOptions): Promise<Row> {
  const { recorder, load, fault, port } = await queryPortUnderLoad(o);
  let attacking = true;
  let closed = 0;
  const encoder = new TextEncoder();
  const attacker = async () => {
    let conn: Deno.TcpConn | undefined;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode("POST /a/predict HTTP/1.1\r\nHost: x\r\n"));
      for (let n = 0; attacking; n++) {
        await conn.write(encoder.encode(`X-${n}: ${"a".repeat(n % 8)}\r\n`));
        await sleep(200);
      }
    } catch {
      closed++; // the server closed it (a header timeout): the defence working
    } finally {
      conn?.close();
    }
  };
  const attackers = Array.from({ length: CONNECTIONS }, attacker);
  await sleep((o.duration_millis * 2) / 3);
  attacking = false;
  await load.stop();
  await Promise.all(attackers);
  return row(`slowloris (${CONNECTIONS} trickling connections)`, load, {
    recover_millis: load.recoverMillis(fault),
    container_answered_twice: await recorder.answeredTwice(),
    note:
      `the server refused or closed ${closed} of the ${CONNECTIONS} trickling connections during the attack`,
  });
}
