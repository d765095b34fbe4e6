//! Clipper's serving core, loaded by the Deno frontend through one narrow C ABI (`ffi`).
//!
//! What happens per query under load lives here: the query port's HTTP for predict requests (`http`), the
//! ZeroMQ RPC to model containers (`rpc`, `runtime`), per-model deadline queues (`queue`), batch sizing
//! (`batching`), SLO deadlines (`timer`), connected replicas (`registry`), recent outputs (`cache`), and the
//! hand-over of answers to the frontend in batches (`completion`). The `engine` ties them together as a single-threaded state machine driven by
//! `runtime`.

pub mod batching;
pub mod cache;
pub mod completion;
pub mod engine;
pub mod ffi;
pub mod http;
pub mod queue;
pub mod registry;
pub mod rpc;
pub mod runtime;
pub mod timer;
