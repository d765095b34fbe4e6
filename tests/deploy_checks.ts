/**
 * Checks of the Dockerfiles and Kubernetes manifests that can run without Docker or Kubernetes: what an
 * image COPYs exists, the flags given to the frontend are ones it accepts, and the variables given to model
 * containers are ones the container libraries read. Each returns the problems it found, so a test can
 * also show that it catches a broken input.
 */

import { parseAllDocuments } from "yaml";
import { loadConfig } from "../src/config.ts";

const root = new URL("..", import.meta.url).pathname;

/** COPY sources (not from another stage) that do not exist in the repository. */
export async function missingCopySources(dockerfile: string): Promise<string[]> {
  const missing: string[] = [];
  for (const line of dockerfile.split("\n")) {
    const m = line.match(/^COPY\s+(?!--from)(.+)$/);
    if (!m) continue;
    const parts = m[1]!.trim().split(/\s+/);
    for (const source of parts.slice(0, -1)) {
      try {
        await Deno.stat(`${root}${source}`);
      } catch {
        missing.push(source);
      }
    }
  }
  return missing;
}

/** The frontend flags an image's ENTRYPOINT passes after `src/main.ts`. */
export function entrypointFlags(dockerfile: string): string[] {
  const m = dockerfile.match(/^ENTRYPOINT\s+(\[.*\])\s*$/m);
  if (!m) return [];
  const words = JSON.parse(m[1]!) as string[];
  const at = words.indexOf("src/main.ts");
  return at < 0 ? [] : words.slice(at + 1);
}

/** Why the frontend would refuse these flags, or undefined when it accepts them. */
export function refusedFlags(flags: readonly string[]): string | undefined {
  try {
    loadConfig(flags, {});
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string }[];
}

/** Every container of every Deployment in a manifest file's documents. */
export function deploymentContainers(manifest: string): Container[] {
  return parseAllDocuments(manifest)
    .map((d) => d.toJSON())
    .filter((doc) => doc?.kind === "Deployment")
    .flatMap((doc) => doc.spec.template.spec.containers as Container[]);
}

/** The CLIPPER_* variables the Python and TypeScript container libraries read. */
export async function containerVariables(): Promise<Set<string>> {
  const sources = [
    await Deno.readTextFile(`${root}containers/python/clipper_container/config.py`),
    await Deno.readTextFile(`${root}containers/deno/config.ts`),
  ];
  return new Set(sources.flatMap((s) => s.match(/CLIPPER_[A-Z_]+/g) ?? []));
}

/** Variables given to a model container that no container library reads. */
export function unknownVariables(container: Container, known: ReadonlySet<string>): string[] {
  return (container.env ?? []).map((e) => e.name).filter((n) => n.startsWith("CLIPPER_") && !known.has(n));
}
