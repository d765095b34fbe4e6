//! The native HTTP front of the query port: `POST /{app}/predict` parsed, submitted and answered in Rust,
//! on its own thread, so the common request never enters the JavaScript runtime (where HTTP alone cost
//! more than the rest of the request; bench/results/README.md).
//!
//! Owns the query port's listener, the app table it answers from (published by src/routing), and the
//! counters of what it answered (merged into `/metrics` by the frontend). Must not validate beyond what it
//! is sure of, nor answer errors itself (save a 500 when that frontend cannot be reached): everything else
//! goes unchanged to the TypeScript frontend's query server, which stays the one owner of routes, messages
//! and error codes.

mod apps;
mod metrics;
pub mod predict;
mod serve;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::runtime::Shared;
pub use apps::AppTable;
pub use metrics::FrontMetrics;

/// Where the front listens and where it forwards.
pub struct FrontConfig<'a> {
    pub host: &'a str,
    /// 0: any free port.
    pub port: u16,
    /// The TypeScript frontend's query server, on loopback.
    pub fallback_port: u16,
    pub max_body_bytes: usize,
}

struct Running {
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

#[derive(Default)]
pub struct Front {
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    running: Mutex<Option<Running>>,
}

impl Front {
    /// Binds the query port and starts serving on a new thread; returns the bound port.
    pub fn start(&self, shared: Arc<Shared>, config: &FrontConfig<'_>) -> Result<u16, String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return Err("The query front is already serving".into());
        }
        let address = format!("{}:{}", config.host, config.port);
        let listener = std::net::TcpListener::bind((config.host, config.port))
            .map_err(|e| format!("Cannot bind the query port \"{address}\": {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("Cannot start the query front: {e}"))?;
        let (stop, stopped) = oneshot::channel();
        let apps = self.apps.clone();
        let metrics = self.metrics.clone();
        let fallback = format!("127.0.0.1:{}", config.fallback_port);
        let max_body_bytes = config.max_body_bytes;
        let thread = std::thread::Builder::new()
            .name("clipper-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        eprintln!("clipper core: cannot serve the query port \"{address}\"");
                        return;
                    };
                    let ctx = Arc::new(serve::Context {
                        shared,
                        apps,
                        metrics,
                        max_body_bytes,
                        fallback,
                        client: serve::Context::client(),
                    });
                    serve::serve(listener, ctx, stopped).await;
                });
            })
            .map_err(|e| format!("Cannot start the query front: {e}"))?;
        *running = Some(Running { stop, thread });
        Ok(port)
    }

    /// Stops listening, lets the requests already taken finish (for a bounded time, `serve::DRAIN`) and
    /// closes every connection. Idempotent. Blocks meanwhile: forwarded requests need the caller's own
    /// server, so call it off that server's thread.
    pub fn stop(&self) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Running { stop, thread }) = running {
            let _ = stop.send(());
            let _ = thread.join();
        }
    }
}
