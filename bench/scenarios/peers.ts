/**
 * The peers scenario: the batching scenario's logistic regression served by Ray Serve, MLServer and
 * BentoML (each in its default configuration, from bench-only environments that scripts/setup.ts makes on
 * first use) and by Clipper with adaptive batching, under the same closed-loop load.
 */

import { atLeast, atMost, type ScenarioResult } from "../lib/result.ts";
import { freePort, spawn, stopAll, waitUntil } from "../lib/processes.ts";
import { startClipper } from "../lib/servers.ts";
import { ceilings, closedLoop, type Context, hyperFigures, script, type Series } from "./context.ts";
import { LOGREG_SETUP } from "./batching.ts";
import { ensure, STEPS } from "../../scripts/setup.ts";

const root = new URL("../..", import.meta.url).pathname;
const bench = `${root}bench`;
const ZEROS = new Array(784).fill(0.5);

interface Peer {
  readonly name: string;
  /** The command that serves the model on `port`. */
  readonly command: (port: number, log_dir: string) => { cmd: string; args: string[]; cwd?: string };
  /** Where the probe and the load go (a /v2/ path gets the V2 inference protocol), and the probe's body. */
  readonly probe_path: string;
  readonly probe_body: unknown;
  /** Extra clean-up for daemons the peer starts outside its own process tree. */
  readonly cleanup?: string[];
}

const PEERS: Peer[] = [
  {
    name: "ray_serve",
    command: (port) => ({
      cmd: `${bench}/.venv-peers/bin/python`,
      args: [`${bench}/peers/ray_serve_logreg.py`, String(port)],
    }),
    probe_path: "/bench/predict",
    probe_body: { input: ZEROS },
    cleanup: [`${bench}/.venv-peers/bin/ray`, "stop", "--force"],
  },
  {
    name: "mlserver",
    command: (port, log_dir) => ({
      cmd: `${bench}/.venv-mlserver/bin/python`,
      args: [
        `${bench}/peers/mlserver_logreg.py`,
        `${log_dir}/mlserver-model`,
        String(port),
        String(freePort()),
        String(freePort()),
      ],
    }),
    probe_path: "/v2/models/logreg/infer",
    probe_body: { inputs: [{ name: "x", shape: [1, 784], datatype: "FP64", data: ZEROS }] },
  },
  {
    name: "bentoml",
    command: (port) => ({
      cmd: `${bench}/.venv-peers/bin/bentoml`,
      args: ["serve", "bentoml_logreg:LogReg", "--host", "127.0.0.1", "--port", String(port)],
      cwd: `${bench}/peers`,
    }),
    probe_path: "/bench/predict",
    probe_body: { input: ZEROS },
  },
];

async function measurePeer(ctx: Context, peer: Peer): Promise<Series> {
  const port = freePort();
  const { cmd, args, cwd } = peer.command(port, ctx.log_dir);
  await spawn(peer.name, cmd, args, {
    cwd,
    env: { PYTHONPATH: `${bench}/models` },
    log_path: `${ctx.log_dir}/${peer.name}.log`,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(`${peer.name} to answer`, async () => {
      const r = await fetch(`${url}${peer.probe_path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(peer.probe_body),
      });
      await r.body?.cancel();
      return r.status === 200;
    }, 180_000);
    // features_784.lua speaks the V2 protocol to a /v2/ path, and Clipper's format elsewhere.
    return await closedLoop(ctx, `${url}${peer.probe_path}`, script("features_784.lua"));
  } finally {
    await stopAll();
    if (peer.cleanup) {
      await new Deno.Command(peer.cleanup[0]!, {
        args: peer.cleanup.slice(1),
        stdout: "null",
        stderr: "null",
      }).output();
    }
  }
}

export async function peers(ctx: Context): Promise<ScenarioResult> {
  await ensure([STEPS.peers, STEPS["peers-mlserver"]]);
  try {
    const clipper = await startClipper(LOGREG_SETUP, ctx.log_dir);
    const ours = await closedLoop(ctx, clipper.url, script("features_784.lua"));
    await stopAll();
    const theirs: Record<string, Series> = {};
    for (const peer of PEERS) theirs[peer.name] = await measurePeer(ctx, peer);
    const { deno: bare, hyper } = await ceilings(ctx, script("features_784.lua"));
    const [bestName, best] = Object.entries(theirs).sort((a, b) =>
      b[1].requests_per_second.median - a[1].requests_per_second.median
    )[0]!;
    const figures: ScenarioResult["figures"] = {
      clipper_requests_per_second: ours.requests_per_second,
      clipper_p99_ms: ours.p99_ms,
    };
    for (const [name, s] of Object.entries(theirs)) {
      figures[`${name}_requests_per_second`] = s.requests_per_second;
      figures[`${name}_p99_ms`] = s.p99_ms;
    }
    figures.ceiling_requests_per_second = bare.requests_per_second;
    Object.assign(figures, hyperFigures(hyper));
    const gain = ours.requests_per_second.median / best.requests_per_second.median;
    return {
      scenario: "peers",
      description:
        "Peers: the batching scenario's logistic regression served by Clipper (adaptive batching, 20 ms objective) and by Ray Serve, MLServer and BentoML in their default configurations (Ray Serve with 64 requests in progress per replica instead of 5)",
      commands: [
        ...clipper.commands,
        ours.command,
        "deno run --allow-all scripts/setup.ts peers peers-mlserver; bench/.venv-peers/bin/python bench/peers/ray_serve_logreg.py PORT",
        "bench/.venv-mlserver/bin/python bench/peers/mlserver_logreg.py DIR PORT GRPC_PORT METRICS_PORT (load: bench/wrk/features_784.lua at /v2/models/logreg/infer)",
        "cd bench/peers && PYTHONPATH=../models ../.venv-peers/bin/bentoml serve bentoml_logreg:LogReg --host 127.0.0.1 --port PORT",
      ],
      figures,
      targets: [
        atLeast(`Clipper req/s over the best peer's (${bestName})`, Number(gain.toFixed(2)), 10),
        atMost(
          `Clipper p99 (ms) against ${bestName}'s ${best.p99_ms.median.toFixed(1)} ms`,
          ours.p99_ms.median,
          best.p99_ms.median,
        ),
      ],
      // Per server: wrk counts a request past its 2 s timeout as an error, which only a slow peer reaches.
      notes: {
        best_peer: bestName,
        clipper_errors: ours.errors,
        ...Object.fromEntries(Object.entries(theirs).map(([name, s]) => [`${name}_errors`, s.errors])),
      },
    };
  } finally {
    await stopAll();
  }
}
