/**
 * The machine's ceiling for the query path: a bare `Deno.serve` handler that parses the same JSON body as
 * Clipper's predict and answers a small JSON object of the same shape. Every scenario measures it in the
 * same run, so figures can be read as ratios on a shared, noisy machine.
 *
 * Usage: deno run --allow-net bench/ceiling.ts PORT
 */

const port = Number(Deno.args[0]);
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
  const body = await req.json();
  const input = body.input ?? body.input_batch;
  return Response.json({ query_id: 1, output: Array.isArray(input) ? input.length : 0, default: false });
});
