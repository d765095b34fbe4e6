/** Every fault scenario, in the order the suite runs them. Owns the list only. */

import { garbageContainer, stallingContainer, wrongOutputs } from "./bad_containers.ts";
import { clientDisconnect } from "./client_disconnect.ts";
import { frontendKill } from "./frontend_kill.ts";
import type { Row, ScenarioOptions } from "./lib.ts";
import { redisRestart } from "./redis_restart.ts";
import { replicaKill } from "./replica_kill.ts";
import { slowloris } from "./slowloris.ts";

export const SCENARIOS: Record<string, (o: ScenarioOptions) => Promise<Row>> = {
  frontend_kill: frontendKill,
  replica_kill: replicaKill,
  redis_restart: redisRestart,
  garbage_container: garbageContainer,
  stalling_container: stallingContainer,
  wrong_outputs: wrongOutputs,
  slowloris,
  client_disconnect: clientDisconnect,
};
