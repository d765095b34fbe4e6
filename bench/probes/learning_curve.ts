/**
 * The selection integration test's learning curve: three digit classifiers of clearly different accuracy
 * (tests/containers/digits.py: logistic regression, a depth-4 and a depth-2 tree) behind one app under a
 * policy, fed predict-then-feedback rounds over the held-out digits, as tests/selection_test.ts does. Prints,
 * per window of rounds, each model's share of the picks (exp3, epsilon_greedy, ucb1) or the ensemble's
 * accuracy beside each member's (exp4), and draws the shares against the feedback count.
 *
 *     deno run --allow-all bench/probes/learning_curve.ts [--policy exp3] [--rounds 600] [--window 50]
 *         [--plot bench/results/learning_curve.png]
 */

import { parseArgs } from "node:util";
import { stopAll } from "../lib/processes.ts";
import { PYTHON, startClipper } from "../lib/servers.ts";

const root = new URL("../..", import.meta.url).pathname;
const MODELS = ["good", "fair", "poor"];

async function heldOutDigits(): Promise<{ images: number[][]; labels: number[] }> {
  const code = "import json; from sklearn.datasets import load_digits; d = load_digits(); " +
    "print(json.dumps({'images': d.data[1200:].tolist(), 'labels': d.target[1200:].tolist()}))";
  const out = await new Deno.Command(PYTHON, { args: ["-c", code], stdout: "piped" }).output();
  if (!out.success) throw new Error("Cannot load scikit-learn's digits");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function post(url: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: "POST", body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(`${url} answered ${r.status}: ${JSON.stringify(json)}`);
  return json;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      policy: { type: "string", default: "exp3" },
      rounds: { type: "string", default: "600" },
      window: { type: "string", default: "50" },
      plot: { type: "string" },
    },
  });
  const [rounds, window] = [Number(values.rounds), Number(values.window)];
  const log_dir = await Deno.makeTempDir({ prefix: "clipper-learning-" });
  const { images, labels } = await heldOutDigits();
  const rows: { feedback: number; shares: number[]; accuracy: number }[] = [];
  try {
    const clipper = await startClipper({
      container: [`${root}tests/containers/digits.py`],
      input_type: "doubles",
      latency_slo_micros: 1_000_000,
      batch_size: -1,
      prediction_cache_bytes: 32 * 1024 * 1024,
      probe_input: images[0],
      models: MODELS,
      policy: { name: values.policy! },
    }, log_dir);
    let picks = MODELS.map(() => 0);
    let right = 0;
    for (let i = 0; i < rounds; i++) {
      const input = images[i % images.length]!;
      const label = labels[i % labels.length]!;
      const answer = await post(`${clipper.url}/bench/predict`, { input });
      for (const used of (answer.models_used ?? []) as string[]) {
        picks[MODELS.indexOf(used.split(":")[0]!)]! += 1;
      }
      if (answer.output === label) right += 1;
      await post(`${clipper.url}/bench/update`, { input, label });
      if ((i + 1) % window === 0) {
        const total = picks.reduce((a, b) => a + b, 0) || 1;
        rows.push({ feedback: i + 1, shares: picks.map((p) => p / total), accuracy: right / window });
        picks = MODELS.map(() => 0);
        right = 0;
      }
    }
  } finally {
    await stopAll();
  }
  console.log(`${values.policy}: share of the picks per ${window} rounds, and the app's accuracy`);
  console.log(["feedback", ...MODELS, "accuracy"].join("\t"));
  for (const r of rows) {
    console.log([r.feedback, ...r.shares.map((s) => s.toFixed(2)), r.accuracy.toFixed(2)].join("\t"));
  }
  if (values.plot) {
    const draw = new Deno.Command(PYTHON, {
      args: [`${root}bench/probes/learning_curve.py`, values.plot],
      stdin: "piped",
    })
      .spawn();
    const writer = draw.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(JSON.stringify({ policy: values.policy, models: MODELS, rows })),
    );
    await writer.close();
    if (!(await draw.status).success) throw new Error("Drawing the learning curve failed");
  }
}
