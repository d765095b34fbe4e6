/** A TypeScript model that answers no outputs (breaking the contract) for inputs starting with "bad", and
 * the length of the others. */
import { serve } from "../../containers/deno/mod.ts";

await serve((inputs) => {
  if (inputs.some((x) => typeof x === "string" && x.startsWith("bad"))) return [];
  return inputs.map((x) => String(x.length));
});
