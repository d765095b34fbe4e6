/** Example container that answers "0" for every input: measures serving overhead alone. */
import { serve } from "../mod.ts";

await serve((inputs) => inputs.map(() => "0"));
