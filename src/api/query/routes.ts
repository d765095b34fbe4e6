/**
 * The query frontend: `POST /{app}/predict`, `POST /{app}/update`, `GET /metrics` (JSON, or Prometheus text
 * when `Accept` asks for it), `GET /metrics/prometheus`, `GET /health`,
 * wire-compatible with the original Clipper. The core serves the query port (native/core/src/http) and
 * answers most predict requests itself; this app, on a loopback port, answers everything it forwards, so
 * it stays the one owner of validation messages and error codes.
 *
 * Owns request validation and response shapes. Must not hold configuration state (it asks `Routes`) nor
 * queue anything itself (the serving core does).
 */

import { Hono } from "hono";
import { ClipperError } from "../../errors.ts";
import { type Completion, CompletionStatus, NativeError, type ServingCore, Status } from "../../core/core.ts";
import type { Metrics } from "../../metrics/registry.ts";
import { prometheusText } from "../../metrics/prometheus.ts";
import type { AppRoute, Routes, Target } from "../../routing/routes.ts";
import type { Rng } from "../../policy/rng.ts";
import { drawnAnswer, ensembleAnswer, memberResult } from "../../policy/combine.ts";
import { checkLabel, loss } from "../../policy/loss.ts";
import { installCommon, readJsonObject } from "../http.ts";
import {
  type Answer,
  answersJson,
  embedJson,
  explanation,
  EXPLANATION_NO_MODEL,
  toAnswer,
} from "./answers.ts";
import { encodeInputs } from "./inputs.ts";
import { InputBatch } from "../../core/input_batch.ts";

export interface QueryApiDeps {
  readonly routes: Routes;
  /** Draws the model a "one" policy answers with on this path, as the core draws on its own. */
  readonly rng: Rng;
  readonly core: ServingCore;
  readonly metrics: Metrics;
  readonly max_body_bytes: number;
  /** False while the state store cannot take writes: the frontend serves on, reporting itself degraded. */
  readonly state_healthy: () => boolean;
}

function unknownApp(name: string, action: string): ClipperError {
  return new ClipperError("app_not_found", `Cannot ${action} for application "${name}": it does not exist`);
}

/** A feedback's predictions may need a model to compute them: at least this long, whatever the app's SLO. */
const FEEDBACK_DEADLINE_MICROS = 1_000_000;

/** The user a query or a feedback is for: `uid` as an integer or a string, "0" (the shared user) when absent. */
function parseUid(uid: unknown): string {
  if (uid === undefined) return "0";
  if (typeof uid === "string" && uid.length > 0 && uid.length <= 256) return uid;
  if (typeof uid === "number" && Number.isSafeInteger(uid)) return String(uid);
  throw new ClipperError(
    "invalid_request",
    `Invalid "uid": expected an integer or a non-empty string of at most 256 characters, got ${
      JSON.stringify(uid)
    }`,
  );
}

/**
 * Seconds a client refused for load should wait before trying again; the core's own refusals
 * (native/core/src/http/serve.rs) say the same.
 */
const RETRY_AFTER_SECONDS = "1";

/** The error for a submission the core refused: load control's own (in the core's words), or any other. */
function refusal(err: NativeError, label: string): ClipperError {
  switch (err.status) {
    case Status.OVERLOADED:
      return new ClipperError("overloaded", err.message);
    case Status.TOO_LARGE:
      return new ClipperError("batch_too_large", err.message);
    default:
      return new ClipperError("core_refused", `Cannot queue the query for model "${label}": ${err.message}`);
  }
}

function isCompletion(answer: Completion | Promise<Completion>): answer is Completion {
  return !(answer instanceof Promise);
}

const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * True when `Accept` lists Prometheus's text format or OpenMetrics (as Prometheus's scraper sends) with a
 * non-zero q; anything else, wildcards included, keeps the JSON report. OpenMetrics askers get the 0.0.4
 * text format, which Prometheus reads by its content type.
 */
function wantsPrometheusText(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((range) => {
    const [type, ...params] = range.split(";").map((part) => part.trim().toLowerCase());
    const q = params.find((p) => p.startsWith("q="));
    return (type === "text/plain" || type === "application/openmetrics-text") &&
      (q === undefined || Number(q.slice(2)) > 0);
  });
}

export function createQueryApi(deps: QueryApiDeps): Hono {
  const { routes, core, metrics, rng } = deps;
  const app = new Hono();
  installCommon(app);
  // A client refused for load is told when to come back, whichever route refused it.
  app.use(async (c, next) => {
    await next();
    if (c.error instanceof ClipperError && c.error.code === "overloaded") {
      c.res.headers.set("retry-after", RETRY_AFTER_SECONDS);
    }
  });
  // Filled and submitted without an await in between, so one batch serves every request.
  const inputs = new InputBatch();

  /** Submits `inputs` to one model version; counts what it answered. */
  const ask = async (target: Target, deadline_micros: number): Promise<Completion[]> => {
    let pending: (Completion | Promise<Completion>)[];
    try {
      pending = core.submit(target.core_model, deadline_micros, inputs);
    } catch (err) {
      if (!(err instanceof NativeError)) throw err;
      throw refusal(err, target.label);
    }
    // All answered from the cache: no need to yield to the event loop.
    const completions = pending.every(isCompletion) ? pending : await Promise.all(pending);
    const modelMetrics = metrics.model(target.label);
    for (const done of completions) {
      if (done.cached) {
        modelMetrics.cache_hits += 1;
      } else if (done.status === CompletionStatus.OK) {
        modelMetrics.predictions += 1;
        modelMetrics.latency_micros.record(done.model_latency_micros);
        modelMetrics.batch_size.record(done.batch_size);
        modelMetrics.queue_micros.record(done.queue_micros);
      } else if (done.status === CompletionStatus.MODEL_ERROR) {
        modelMetrics.errors += 1;
      }
    }
    return completions;
  };

  /** Every query of the request answered with no model, as the core answers an app with none linked. */
  const unanswered = (): Completion[] => {
    const first = core.allocateQueryIds(inputs.count);
    return Array.from({ length: inputs.count }, (_, i) => ({
      query_id: first + i,
      status: CompletionStatus.NO_CONNECTED_MODEL,
      payload: EXPLANATION_NO_MODEL,
      model_latency_micros: 0,
      batch_size: 0,
      queue_micros: 0,
      cached: false,
    }));
  };

  /** The answers of an app with a selection policy, as the core gives them (tests/vectors/selection.json). */
  const select = async (route: AppRoute, uid: string, defaultOutput: string): Promise<Answer[]> => {
    const spec = routes.spec(route);
    if (spec.policy !== "exp4") {
      // One draw for the request's queries (the core draws per query): this path takes only the requests
      // the core forwards, and its batch goes to the core in one submission.
      const member = routes.drawMember(route, uid, rng);
      if (member === undefined) return unanswered().map((c) => toAnswer(c, defaultOutput));
      const completions = await ask(member, route.latency_slo_micros);
      return completions.map((c) => drawnAnswer(c.query_id, member.label, defaultOutput, memberResult(c)));
    }
    const members = routes.members(route);
    if (members.length === 0) return unanswered().map((c) => toAnswer(c, defaultOutput));
    const ensemble = {
      members: members.map((m) => m.label),
      weights: routes.weights(route, members, uid),
      combine: spec.params.combine,
      min_confidence: spec.params.min_confidence,
    };
    const answers = await Promise.all(members.map((m) => ask(m, route.latency_slo_micros)));
    // A query's id is the one its first member's submission got.
    return answers[0]!.map((first, i) =>
      ensembleAnswer(first.query_id, ensemble, defaultOutput, answers.map((a) => memberResult(a[i]!)))
    );
  };

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
      const uid = parseUid(body.uid);
      const version = body.version;
      if (version !== undefined && typeof version !== "string") {
        throw new ClipperError(
          "invalid_request",
          `Invalid "version": expected a string, got ${JSON.stringify(version)}`,
        );
      }
      const defaultOutput = embedJson(route.default_output);
      const policy = routes.spec(route).policy;
      if (policy !== "default") {
        if (version !== undefined) {
          throw new ClipperError(
            "invalid_request",
            `Cannot pin "version" for application "${name}": its policy "${policy}" chooses among its models`,
          );
        }
        answers = await select(route, uid, defaultOutput);
      } else {
        const target = routes.target(route, version);
        const completions = target === undefined ? unanswered() : await ask(target, route.latency_slo_micros);
        answers = completions.map((done) => toAnswer(done, defaultOutput));
      }
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
    const uid = parseUid(body.uid);
    const spec = routes.spec(route);
    const wrongLabel = checkLabel(spec.params, body.label);
    if (wrongLabel !== undefined) throw new ClipperError("invalid_request", wrongLabel);
    const label = body.label as number | string;
    // Each member's prediction for the input: from the prediction cache when it was served lately, else
    // asked now, with at least a second for a model that has to compute it.
    const members = routes.members(route);
    const deadline = Math.max(route.latency_slo_micros, FEEDBACK_DEADLINE_MICROS);
    const results = await Promise.all(members.map(async (m) => (await ask(m, deadline))[0]!));
    const losses = new Map<string, number>();
    const scored: { model: string; loss: number }[] = [];
    const unscored: { model: string; reason: string }[] = [];
    for (const [i, m] of members.entries()) {
      const result = results[i]!;
      if (result.status === CompletionStatus.OK) {
        const value = loss(spec.params, result.payload, label);
        losses.set(m.model_name, value);
        scored.push({ model: m.label, loss: value });
      } else {
        unscored.push({ model: m.label, reason: explanation(result) });
      }
    }
    if (scored.length === 0) {
      const why = members.length === 0
        ? "it has no linked model with a current version"
        : unscored.map((u) => `${u.model}: ${u.reason}`).join("; ");
      throw new ClipperError(
        "feedback_unscorable",
        `Cannot score feedback for application "${name}": no model gave a prediction for the input (${why})`,
      );
    }
    routes.learn(route, uid, losses);
    metrics.app(name).feedback += 1;
    return c.json({ feedback: true, uid, models_scored: scored, models_unscored: unscored });
  });

  /** Adds what the native query port counted since the last report. */
  const absorbCore = () => metrics.absorb(core.takeHttpMetrics(), (name) => routes.app(name) !== undefined);

  const prometheus = () => {
    absorbCore();
    const text = prometheusText({ metrics, snapshot: core.snapshot(), state_healthy: deps.state_healthy() });
    return new Response(text, { headers: { "content-type": PROMETHEUS_CONTENT_TYPE, vary: "Accept" } });
  };

  app.get("/metrics/prometheus", prometheus);

  app.get("/metrics", (c) => {
    if (wantsPrometheusText(c.req.header("accept"))) return prometheus();
    c.header("vary", "Accept");
    absorbCore();
    const snapshot = core.snapshot();
    return c.json({
      ...metrics.report(),
      // Model performance: per app, each linked model's feedback count, recent mean loss and the policy's
      // number for the shared user.
      selection: Object.fromEntries(
        routes.apps().map((a) => [a.name, { policy: routes.spec(a).policy, models: routes.view(a, "0") }]),
      ),
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
