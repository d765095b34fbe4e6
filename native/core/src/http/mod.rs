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

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;

    use super::*;
    use crate::engine::EngineConfig;
    use crate::runtime::submit::Admission;

    /// Stands in for the TypeScript frontend's query server (tested for real in tests/): answers every
    /// request "ok".
    fn fallback() -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if stream.write_all(ok).is_err() {
                                return;
                            }
                        }
                        line.clear();
                    }
                });
            }
        });
        port
    }

    #[test]
    fn connections_queued_unaccepted_when_the_front_stops_are_answered_not_reset() {
        let core = Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            Admission::total(1000),
            1 << 20,
        )
        .unwrap();
        let front = Front::default();
        let config = FrontConfig {
            host: "127.0.0.1",
            port: 0,
            fallback_port: fallback(),
            limits: Limits::generous(1 << 20),
            tls: None,
        };
        let port = front.start(&core, &config).unwrap();
        // Holds the core thread, so that the clients below wait in the kernel's accept queue.
        let (held, release) = (mpsc::channel::<()>(), mpsc::channel::<()>());
        core.handle.spawn(async move {
            held.0.send(()).unwrap();
            let _ = release.1.recv();
        });
        held.1.recv().unwrap();
        let clients: Vec<TcpStream> = (0..8)
            .map(|_| {
                let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
                let request = b"GET /other HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
                client.write_all(request).unwrap();
                client
            })
            .collect();
        std::thread::scope(|scope| {
            // The stop is waiting when the core thread resumes.
            let stopped = scope.spawn(|| front.stop(Duration::from_secs(10)));
            while !stopped.is_finished() && front.running.lock().unwrap().is_some() {
                std::thread::yield_now();
            }
            release.0.send(()).unwrap();
            for mut client in clients {
                let mut answer = String::new();
                client.read_to_string(&mut answer).unwrap();
                assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
            }
        });
        core.stop();
    }
}
