/**
 * The container loop: connects a ZeroMQ DEALER (`zmtp.ts`) to the frontend, announces the model, answers
 * heartbeats, runs the user's `predict` on each batch and sends its outputs, one string per input. A batch whose
 * predict throws or breaks the contract is answered with the batch-error extension and the container keeps
 * serving. On SIGTERM or SIGINT it finishes the batch in hand, says it is leaving and exits.
 *
 * Owns the connection's life (retrying while the frontend is not there, reconnecting with a fresh identity
 * when it breaks or after 30 s of silence, like the Python library). Must not know byte layouts (`rpc.ts`,
 * `zmtp.ts`).
 */

import { type Config, loadConfig } from "./config.ts";
import * as rpc from "./rpc.ts";
import { Dealer, isConnectionError } from "./zmtp.ts";

/** A model: takes a batch of inputs, returns one string per input. */
export type Predict = (inputs: rpc.Input[]) => string[] | Promise<string[]>;

export interface ContainerOptions {
  readonly heartbeat_interval_millis?: number;
  readonly activity_timeout_millis?: number;
}

const RECEIVE_TIMEOUT_MILLIS = 50;
const LEAVING_LINGER_MILLIS = 1000;
/** Between attempts to reach a frontend that is not listening (libzmq's default reconnect interval). */
const RECONNECT_MILLIS = 100;
/** A frontend that accepts the connection must finish the handshake within this. */
const HANDSHAKE_MILLIS = 5000;

/** Why `outputs` is not one string per input, or undefined when it is. */
export function contractViolation(
  outputs: unknown,
  batch_size: number,
): string | undefined {
  if (!Array.isArray(outputs)) {
    return `predict must return an array of strings, got ${typeof outputs}`;
  }
  if (outputs.length !== batch_size) {
    return `predict returned ${outputs.length} outputs for a batch of ${batch_size} inputs`;
  }
  const bad = outputs.findIndex((o) => typeof o !== "string");
  return bad < 0 ? undefined : `predict must return strings; output ${bad} is ${typeof outputs[bad]}`;
}

function log(message: string): void {
  console.error(`clipper_container: ${message}`);
}

export class Container {
  #stopping = false;
  readonly #heartbeat_millis: number;
  readonly #activity_millis: number;

  constructor(
    readonly predict: Predict,
    readonly config: Config,
    options: ContainerOptions = {},
  ) {
    this.#heartbeat_millis = options.heartbeat_interval_millis ?? 5000;
    this.#activity_millis = options.activity_timeout_millis ?? 30_000;
  }

  /** Asks `run()` to finish the batch in hand, say it is leaving, and return. */
  stop(): void {
    this.#stopping = true;
  }

  async run(): Promise<void> {
    const c = this.config;
    log(
      `serving ${c.model_name}:${c.model_version} (${c.input_type}) to tcp://${c.host}:${c.port}`,
    );
    let unreachable = false;
    while (!this.#stopping) {
      let dealer: Dealer;
      try {
        // A fresh connection gets a fresh routing identity, so the frontend asks for metadata again.
        dealer = await Dealer.connect(c.host, c.port, HANDSHAKE_MILLIS);
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        if (!unreachable) {
          log(`cannot reach the frontend (${(err as Error).message}); retrying every ${RECONNECT_MILLIS} ms`);
        }
        unreachable = true;
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MILLIS));
        continue;
      }
      unreachable = false;
      await this.#serve(dealer);
    }
  }

  /** Serves one connection until it breaks, goes quiet, or the container stops. */
  async #serve(dealer: Dealer): Promise<void> {
    let linger_millis = 0;
    try {
      await dealer.send(rpc.encodeHeartbeat());
      let lastReceived = Date.now();
      let lastHeartbeat = lastReceived;
      while (!this.#stopping) {
        const frames = await dealer.receive(RECEIVE_TIMEOUT_MILLIS);
        const now = Date.now();
        if (frames === undefined) {
          if (now - lastReceived >= this.#activity_millis) {
            log(`nothing from the frontend for ${this.#activity_millis} ms; reconnecting`);
            return;
          }
          if (now - Math.max(lastReceived, lastHeartbeat) >= this.#heartbeat_millis) {
            await dealer.send(rpc.encodeHeartbeat());
            lastHeartbeat = now;
          }
          continue;
        }
        lastReceived = now;
        const reply = await this.#handle(frames);
        if (reply) await dealer.send(reply);
      }
      // Stopping: the batch in hand was answered; say goodbye so the frontend requeues anything sent since.
      await dealer.send(rpc.encodeLeaving());
      linger_millis = LEAVING_LINGER_MILLIS;
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      log(`lost the connection to the frontend: ${(err as Error).message}`);
    } finally {
      await dealer.close(linger_millis);
    }
  }

  async #handle(frames: Uint8Array[]): Promise<Uint8Array[] | undefined> {
    let message: rpc.FrontendMessage;
    try {
      message = rpc.decodeFrontendMessage(frames);
    } catch (err) {
      if (!(err instanceof rpc.ProtocolError)) throw err;
      log(`ignoring a message from the frontend: ${err.message}`);
      return err.msg_id
        ? rpc.encodeBatchError(
          err.msg_id,
          `bad prediction request: ${err.message}`,
        )
        : undefined;
    }
    switch (message.kind) {
      case "heartbeat":
        return message.request_metadata
          ? rpc.encodeNewContainer(
            this.config.model_name,
            this.config.model_version,
            this.config.input_type,
            this.config.replica,
          )
          : undefined;
      case "feedback":
        return undefined; // these containers do not learn online
      case "predict":
        return await this.#answer(message.msg_id, message.inputs);
    }
  }

  async #answer(
    msg_id: Uint8Array,
    inputs: rpc.Input[],
  ): Promise<Uint8Array[]> {
    let outputs: unknown;
    try {
      outputs = await this.predict(inputs);
    } catch (err) {
      const name = err instanceof Error ? err.name : typeof err;
      return rpc.encodeBatchError(
        msg_id,
        `predict threw ${name}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const problem = contractViolation(outputs, inputs.length);
    return problem ? rpc.encodeBatchError(msg_id, problem) : rpc.encodeResponse(msg_id, outputs as string[]);
  }
}

/**
 * Serves `predict` with the configuration from the CLIPPER_* environment (and `overrides`) until SIGTERM or
 * SIGINT, then exits.
 */
export async function serve(
  predict: Predict,
  overrides: Partial<Config> = {},
  options: ContainerOptions = {},
) {
  const container = new Container(
    predict,
    loadConfig(Deno.env.toObject(), overrides),
    options,
  );
  const stop = () => container.stop();
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  try {
    await container.run();
  } finally {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
  }
}
