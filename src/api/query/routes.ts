/**
 * The query frontend: `POST /{app}/predict`, `POST /{app}/update`, `GET /metrics`, `GET /health`,
 * wire-compatible with the original Clipper. The core serves the query port (native/core/src/http) and
 * answers most predict requests itself; this app, on a loopback port, answers everything it forwards, so
 * it stays the one owner of validation messages and error codes.
 *
 * Owns request validation and response shapes. Must not hold configuration state (it asks `Routes`) nor
 * queue anything itself (the serving core does).
 */

import { Hono } from "hono";
import { ClipperError } from "../../errors.ts";
import { type Completion, CompletionStatus, NativeError, type ServingCore } from "../../core/core.ts";
import type { Metrics } from "../../metrics/registry.ts";
import type { Routes } from "../../routing/routes.ts";
import { installCommon, readJsonObject } from "../http.ts";
import { type Answer, answersJson, embedJson, EXPLANATION_NO_MODEL, toAnswer } from "./answers.ts";
import { encodeInputs } from "./inputs.ts";
import { InputBatch } from "../../core/input_batch.ts";

export interface QueryApiDeps {
  readonly routes: Routes;
  readonly core: ServingCore;
  readonly metrics: Metrics;
  readonly max_body_bytes: number;
  /** False while the state store cannot take writes: the frontend serves on, reporting itself degraded. */
  readonly state_healthy: () => boolean;
}

function unknownApp(name: string, action: string): ClipperError {
  return new ClipperError("app_not_found", `Cannot ${action} for application "${name}": it does not exist`);
}

function isCompletion(answer: Completion | Promise<Completion>): answer is Completion {
  return !(answer instanceof Promise);
}

export function createQueryApi(deps: QueryApiDeps): Hono {
  const { routes, core, metrics } = deps;
  const app = new Hono();
  installCommon(app);
  // Filled and submitted without an await in between, so one batch serves every request.
  const inputs = new InputBatch();

  app.post("/:app/predict", async (c) => {
    const started = performance.now();
    const name = c.req.param("app");
    const route = routes.app(name);
    if (!route) throw unknownApp(name, "predict");
    const appMetrics = metrics.app(name);
    appMetrics.requests += 1;
    let answers: Answer[];
    let batch: boolean;
    try {
      const body = await readJsonObject(c, deps.max_body_bytes);
      batch = encodeInputs(body, route.input_type, inputs);
      const version = body.version;
      if (version !== undefined && typeof version !== "string") {
        throw new ClipperError(
          "invalid_request",
          `Invalid "version": expected a string, got ${JSON.stringify(version)}`,
        );
      }
      const target = routes.target(route, version);
      let completions: Completion[];
      if (target === undefined) {
        const first = core.allocateQueryIds(inputs.count);
        completions = Array.from({ length: inputs.count }, (_, i) => ({
          query_id: first + i,
          status: CompletionStatus.NO_CONNECTED_MODEL,
          payload: EXPLANATION_NO_MODEL,
          model_latency_micros: 0,
          batch_size: 0,
          cached: false,
        }));
      } else {
        let pending: (Completion | Promise<Completion>)[];
        try {
          pending = core.submit(target.core_model, route.latency_slo_micros, inputs);
        } catch (err) {
          if (!(err instanceof NativeError)) throw err;
          throw new ClipperError(
            "core_refused",
            `Cannot queue the query for model "${target.label}": ${err.message}`,
          );
        }
        // All answered from the cache: no need to yield to the event loop.
        completions = pending.every(isCompletion) ? pending : await Promise.all(pending);
        const modelMetrics = metrics.model(target.label);
        for (const done of completions) {
          if (done.cached) {
            modelMetrics.cache_hits += 1;
          } else if (done.status === CompletionStatus.OK) {
            modelMetrics.predictions += 1;
            modelMetrics.latency_micros.record(done.model_latency_micros);
            modelMetrics.batch_size.record(done.batch_size);
          } else if (done.status === CompletionStatus.MODEL_ERROR) {
            modelMetrics.errors += 1;
          }
        }
      }
      const defaultOutput = embedJson(route.default_output);
      answers = completions.map((done) => toAnswer(done, defaultOutput));
    } catch (err) {
      appMetrics.rejected_requests += 1;
      throw err;
    }
    appMetrics.predictions += answers.length;
    for (const a of answers) if (a.default) appMetrics.default_outputs += 1;
    appMetrics.latency_micros.record((performance.now() - started) * 1000);
    return c.body(answersJson(answers, batch), 200, { "content-type": "application/json" });
  });

  app.post("/:app/update", async (c) => {
    const name = c.req.param("app");
    const route = routes.app(name);
    if (!route) throw unknownApp(name, "send feedback");
    const body = await readJsonObject(c, deps.max_body_bytes);
    if (!("input" in body)) throw new ClipperError("invalid_request", 'Invalid feedback: it needs "input"');
    encodeInputs({ input: body.input }, route.input_type, inputs);
    if (typeof body.label !== "number" || !Number.isFinite(body.label)) {
      throw new ClipperError(
        "invalid_request",
        `Invalid "label": expected a number, got ${JSON.stringify(body.label)}`,
      );
    }
    if (typeof body.uid !== "string" && typeof body.uid !== "number") {
      throw new ClipperError(
        "invalid_request",
        `Invalid "uid": expected a string or a number, got ${JSON.stringify(body.uid)}`,
      );
    }
    metrics.app(name).feedback += 1;
    return c.text("Feedback received? true");
  });

  app.get("/metrics", (c) => {
    metrics.absorb(core.takeHttpMetrics(), (name) => routes.app(name) !== undefined);
    const snapshot = core.snapshot();
    return c.json({
      ...metrics.report(),
      state: { healthy: deps.state_healthy() },
      cache: snapshot.cache,
      core: {
        ...snapshot.counters,
        connected_replicas: snapshot.replicas.length,
        queued_queries: snapshot.queued_queries,
        inflight_batches: snapshot.inflight_batches,
      },
    });
  });

  app.get("/health", (c) =>
    c.json({
      status: deps.state_healthy() ? "ok" : "degraded",
      state_store: deps.state_healthy() ? "ok" : "unavailable",
      connected_replicas: core.snapshot().replicas.length,
    }));

  return app;
}
