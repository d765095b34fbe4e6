//! The native HTTP front of the query port: `POST /{app}/predict` parsed, submitted and answered in Rust,
//! on the core thread beside the engine (and, with `threads` above one, on threads of its own too, each
//! accepting on its own listener on the port, sharing the app table, the counters and the connection cap), so the common request never enters the JavaScript runtime (where
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

use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::sync::{oneshot, Semaphore};

use crate::runtime::Runtime;
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
    /// Threads serving the port: the core's own, and `threads − 1` more, each with a listener of its own
    /// on the same port (`SO_REUSEPORT`: the kernel spreads connections over them).
    pub threads: usize,
}

struct Running {
    /// One per serving thread; each carries how long to drain.
    stops: Vec<oneshot::Sender<Duration>>,
    /// Disconnected when every serving task has ended.
    ended: std::sync::mpsc::Receiver<()>,
    /// The serving threads besides the core's.
    threads: Vec<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
pub struct Front {
    pub apps: Arc<AppTable>,
    pub metrics: Arc<Mutex<FrontMetrics>>,
    running: Mutex<Option<Running>>,
}

/// A listening socket on `host:port`, shareable with other sockets on the same port when `shared`. Like
/// `std::net::TcpListener::bind`, it takes the first of the host's addresses that binds.
fn bind(host: &str, port: u16, shared: bool) -> std::io::Result<std::net::TcpListener> {
    let bind_one = |address: std::net::SocketAddr| -> std::io::Result<std::net::TcpListener> {
        let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        if shared {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&address.into())?;
        socket.listen(1024)?;
        socket.set_nonblocking(true)?;
        Ok(socket.into())
    };
    let mut last = std::io::Error::other("the host has no address");
    for address in (host, port).to_socket_addrs()? {
        match bind_one(address) {
            Ok(listener) => return Ok(listener),
            Err(err) => last = err,
        }
    }
    Err(last)
}

impl Front {
    /// Binds the port and starts serving it on the core's thread (`runtime::Runtime`), so a request and its
    /// batch share one thread, and on `threads − 1` threads of their own, which hand their queries to the
    /// core's engine as the C ABI does; returns the bound port.
    pub fn start(&self, core: &Runtime, config: &FrontConfig<'_>) -> Result<u16, String> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return Err("This front is already serving".into());
        }
        let cannot_bind = |e: std::io::Error| {
            let address = format!("{}:{}", config.host, config.port);
            format!("Cannot bind \"{address}\": {e}")
        };
        let threads = config.threads.max(1);
        let first = bind(config.host, config.port, threads > 1).map_err(cannot_bind)?;
        let port = first.local_addr().map_err(cannot_bind)?.port();
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(bind(config.host, port, true).map_err(cannot_bind)?);
        }
        let open = Arc::new(Semaphore::new(config.limits.max_connections));
        let (end, ended) = std::sync::mpsc::sync_channel::<()>(0);
        let mut stops = Vec::with_capacity(threads);
        let mut extra = Vec::with_capacity(threads - 1);
        for (i, listener) in listeners.into_iter().enumerate() {
            let (stop, stopped) = oneshot::channel();
            stops.push(stop);
            let ctx = serve::Context {
                shared: core.shared.clone(),
                apps: self.apps.clone(),
                metrics: self.metrics.clone(),
                limits: config.limits,
                tls: config.tls.clone(),
                fallback: format!("127.0.0.1:{}", config.fallback_port),
                client: serve::Context::client(),
                rng: selection::Rng::from_clock(),
                open: open.clone(),
            };
            let end = end.clone();
            let serving = async move {
                // Registering with this thread's I/O driver needs its context: inside the task.
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => serve::serve(listener, Arc::new(ctx), stopped).await,
                    Err(err) => eprintln!("clipper core: cannot serve the query port: {err}"),
                }
                drop(end);
            };
            if i == 0 {
                core.handle.spawn(serving);
                continue;
            }
            let thread = std::thread::Builder::new()
                .name(format!("clipper-http-{i}"))
                .spawn(move || {
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_io()
                        .enable_time()
                        .build()
                    {
                        Ok(runtime) => runtime.block_on(serving),
                        Err(err) => eprintln!("clipper core: cannot start an HTTP thread: {err}"),
                    }
                })
                .map_err(|e| format!("Cannot start an HTTP thread: {e}"))?;
            extra.push(thread);
        }
        *running = Some(Running {
            stops,
            ended,
            threads: extra,
        });
        Ok(port)
    }

    /// Stops listening, lets the requests already taken finish (for up to `drain`) and closes every
    /// connection, on every serving thread. Idempotent. Blocks meanwhile: forwarded requests need the
    /// caller's own server, so call it off that server's thread.
    pub fn stop(&self, drain: Duration) {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(Running {
            stops,
            ended,
            threads,
        }) = running
        {
            for stop in stops {
                let _ = stop.send(drain);
            }
            // Returns when every task has ended, or at once when the threads have already stopped.
            let _ = ended.recv();
            for thread in threads {
                let _ = thread.join();
            }
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

    fn core() -> Runtime {
        Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            Admission::total(1000),
            1 << 20,
        )
        .unwrap()
    }

    fn config(threads: usize, max_connections: usize) -> FrontConfig<'static> {
        FrontConfig {
            host: "127.0.0.1",
            port: 0,
            fallback_port: fallback(),
            limits: Limits {
                max_connections,
                ..Limits::generous(1 << 20)
            },
            tls: None,
            threads,
        }
    }

    /// One request on a connection of its own; the whole answer.
    fn get(port: u16) -> String {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client
            .write_all(b"GET /other HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn a_port_served_by_several_threads_answers_every_connection_and_stops_them_all() {
        let core = core();
        let front = Front::default();
        let port = front.start(&core, &config(3, 1024)).unwrap();
        for _ in 0..40 {
            assert!(get(port).starts_with("HTTP/1.1 200 OK"));
        }
        front.stop(Duration::from_secs(5));
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "no thread listens after the stop"
        );
        core.stop();
    }

    #[test]
    fn the_connection_cap_holds_across_threads() {
        let core = core();
        let front = Front::default();
        let port = front.start(&core, &config(3, 4)).unwrap();
        // However the kernel spreads six connections over the threads' listeners, two are over the cap of
        // four and closed at once (a cap per thread would take them all).
        let held: Vec<TcpStream> = (0..6)
            .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
            .collect();
        let refused = |core: &Runtime| {
            core.shared
                .snapshot()
                .map_or(0, |s| s.counters.connections_refused)
        };
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while refused(&core) < 2 && std::time::Instant::now() < until {
            std::thread::yield_now();
        }
        assert_eq!(refused(&core), 2);
        drop(held);
        front.stop(Duration::from_secs(5));
        core.stop();
    }

    #[test]
    fn connections_queued_unaccepted_when_the_front_stops_are_answered_not_reset() {
        let core = core();
        let front = Front::default();
        let port = front.start(&core, &config(1, 1024)).unwrap();
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
