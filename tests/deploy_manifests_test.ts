/**
 * The Dockerfiles and Kubernetes manifests, checked as far as this machine can (it runs neither Docker nor
 * Kubernetes; hadolint and kubernetes-validate run as their own suites in `deno task test`).
 */
import assert from "node:assert/strict";
import {
  containerVariables,
  deploymentContainers,
  entrypointFlags,
  missingCopySources,
  refusedFlags,
  unknownVariables,
} from "./deploy_checks.ts";

const root = new URL("..", import.meta.url).pathname;
const dockerfiles = ["frontend", "python", "deno"].map((n) => `${root}containers/docker/${n}.Dockerfile`);
const manifests = [...Deno.readDirSync(`${root}containers/kubernetes`)]
  .filter((e) => e.name.endsWith(".yaml"))
  .map((e) => `${root}containers/kubernetes/${e.name}`);

Deno.test("every path the Dockerfiles copy exists, and a missing one is caught", async () => {
  for (const path of dockerfiles) {
    assert.deepEqual(await missingCopySources(await Deno.readTextFile(path)), [], path);
  }
  assert.deepEqual(await missingCopySources("COPY src/ nowhere/ /app/\nCOPY --from=core /x /y"), [
    "nowhere/",
  ]);
});

Deno.test("the frontend accepts the flags its image and its Deployment pass, and a bad one is caught", async () => {
  const image = entrypointFlags(await Deno.readTextFile(dockerfiles[0]!));
  assert.deepEqual(image.slice(0, 2), ["--host", "0.0.0.0"]);
  const frontend = deploymentContainers(
    await Deno.readTextFile(`${root}containers/kubernetes/20-frontend.yaml`),
  );
  assert.equal(frontend.length, 1);
  assert.equal(refusedFlags([...image, ...frontend[0]!.args!]), undefined);
  assert.match(refusedFlags([...image, "--manage-replicas", "maybe"]) ?? "", /--manage-replicas/);
  assert.match(refusedFlags(["--cache", "1"]) ?? "", /Cannot read the command line/);
});

Deno.test("model containers get only variables the container libraries read, and a stray one is caught", async () => {
  const known = await containerVariables();
  for (const name of ["CLIPPER_MODEL_NAME", "CLIPPER_MODEL_VERSION", "CLIPPER_IP", "CLIPPER_PORT"]) {
    assert.ok(known.has(name), name);
  }
  let models = 0;
  for (const path of manifests) {
    for (const c of deploymentContainers(await Deno.readTextFile(path))) {
      if (c.image.startsWith("clipper/frontend")) continue;
      assert.deepEqual(unknownVariables(c, known), [], `${path}: ${c.name}`);
      models += c.image.startsWith("clipper/") ? 1 : 0;
    }
  }
  assert.ok(models >= 1, "the model Deployment template was checked");
  assert.deepEqual(
    unknownVariables({ name: "m", image: "x", env: [{ name: "CLIPPER_MODEL_NAMES" }] }, known),
    [
      "CLIPPER_MODEL_NAMES",
    ],
  );
});
