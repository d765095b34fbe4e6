//! The native HTTP front of the query port: `POST /{app}/predict` parsed, submitted and answered in Rust,
//! on the core thread beside the engine, so the common request never enters the JavaScript runtime (where
//! HTTP alone cost more than the rest of the request) nor waits for another thread to wake
//! (bench/HISTORY.md).
//!
//! Owns the query port's listener, the app table it answers from (published by src/routing), and the
//! counters of what it answered (merged into `/metrics` by the frontend). Apps with a selection policy are
//! answered here too: one drawn member, or every member combined by the deadline (`selection` explains the
//! design), with the weights src/policy learns and publishes. Must not validate beyond what it is sure of,
//! nor answer errors itself (save a 500 when that frontend cannot be reached, and the refusals of load
//! control, `serve`, in the frontend's words), nor learn weights:
//! everything else goes unchanged to the TypeScript frontend's query server, which stays the one owner of
//! routes, messages and error codes.
//!
//! The admin port is a second `Front` whose app table stays empty: it forwards every request to the
//! frontend's management server, so TLS (`tls`) and the connection limits apply to both ports from here.
//!
//! Files: `serve` (the server and one request's life), `limits` (what a client may hold and for how
//! long), `predict` (bodies and answers), `apps` (the table), `selection` (draws, fan-out, combining),
//! `metrics` (counters), `drain` (closing connections on stop), `tls` (certificate loading, handshake).

mod apps;
mod drain;
mod limits;
mod metrics;
pub mod predict;
mod selection;
mod serve;
pub mod tls;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::runtime::{listen, Runtime};
pub use apps::AppTable;
pub use limits::Limits;
pub use metrics::FrontMetrics;

/// Where the front listens and where it forwards.
pub struct FrontConfig<'a> {
    pub host: &'a str,
    /// 0: any free port.
    pub port: u16,
    /// The TypeScript frontend's query server, on loopback.
    pub fallback_port: u16,
    pub limits: Limits,
    /// `Some` makes the port speak HTTPS (`tls::load`).
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

struct Running {
    /// Carries how long to drain.
    stop: oneshot::Sender<Duration>,
    /// Disconnected when the serving task ends.
    ended: std::sync::mpsc::Receiver<()>,
}

#[derive(Default)]
pub struct Front {
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    running: Mutex<Option<Running>>,
}

impl Front {
    /// Binds the query port and starts serving on the core's thread (`runtime::Runtime`), so a request and
    /// its batch share one thread; returns the bound port.
    pub fn start(&self, core: &Runtime, config: &FrontConfig<'_>) -> Result<u16, String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return Err("This front is already serving".into());
        }
        let (listener, bound) = listen(&core.handle, (config.host, config.port)).map_err(|e| {
            let address = format!("{}:{}", config.host, config.port);
            format!("Cannot bind \"{address}\": {e}")
        })?;
        let (stop, stopped) = oneshot::channel();
        let (end, ended) = std::sync::mpsc::sync_channel::<()>(0);
        let ctx = Arc::new(serve::Context {
            shared: core.shared.clone(),
            apps: self.apps.clone(),
            metrics: self.metrics.clone(),
            limits: config.limits,
            tls: config.tls.clone(),
            fallback: format!("127.0.0.1:{}", config.fallback_port),
            client: serve::Context::client(),
            rng: selection::Rng::from_clock(),
        });
        core.handle.spawn(async move {
            serve::serve(listener, ctx, stopped).await;
            drop(end);
        });
        *running = Some(Running { stop, ended });
        Ok(bound.port())
    }

    /// Stops listening, lets the requests already taken finish (for up to `drain`) and closes every
    /// connection. Idempotent. Blocks meanwhile: forwarded requests need the caller's own server, so call
    /// it off that server's thread.
    pub fn stop(&self, drain: Duration) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Running { stop, ended }) = running {
            let _ = stop.send(drain);
            // Returns when the task ends, or at once when the core thread has already stopped.
            let _ = ended.recv();
        }
    }
}
