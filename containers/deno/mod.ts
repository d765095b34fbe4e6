/**
 * Clipper model containers in TypeScript: `serve(predict)` connects a model to a Clipper frontend over the
 * original RPC protocol (v3, ZeroMQ), configured like every Clipper container by the CLIPPER_* environment.
 *
 * ```ts
 * import { serve } from "./mod.ts";
 * await serve((inputs) => inputs.map((x) => String(x.length)));
 * ```
 */

export { Container, type ContainerOptions, contractViolation, type Predict, serve } from "./container.ts";
export { type Config, ConfigError, loadConfig } from "./config.ts";
export { type Input, InputType, type InputTypeName } from "./rpc.ts";
