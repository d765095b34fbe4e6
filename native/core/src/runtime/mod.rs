//! The core thread: one thread, one single-threaded tokio runtime, running the engine, the RPC socket
//! (`router`) and, once started, the query port's HTTP front (`crate::http`). With `--threads` above one,
//! the front also runs on threads of its own, which submit as the C ABI does (through `Shared`); the
//! engine stays on this thread.
//!
//! Owns the clock, the socket and the wake-up path. A predict request taken by the HTTP front, the batch
//! it joins and the container's answer all stay on this thread: no hand-off to another thread anywhere
//! in the round trip (the hand-offs had cost more than the work; bench/HISTORY.md). Callers on
//! other threads (the C ABI) talk to it only through `Shared`: commands go into one mutex-guarded vector
//! and a `Notify` wakes the engine task; answers come back through the completion queue. Must not make
//! decisions about queries: that is the engine's job.
//!
//! Waking from another thread is the costly part (a syscall for the submitter, a context switch for the
//! core thread), so it is skipped when it cannot change anything: a submission needs no wake-up while
//! every replica is busy and every model has one (its queries can only leave with the next answer, which
//! wakes the engine anyway) and its deadline is no earlier than the engine's own next wake-up. The engine
//! publishes both facts after each turn and then looks at the command vector once more, so a submitter
//! that read stale facts is always seen.
//!
//! A panic in an engine turn is contained here (`failure`): it is logged to stderr with its message and
//! location, every waiting query is answered at once (channels with a dropped-query answer, the completion
//! queue closed so its poller learns the core failed), and every later call is refused. The thread's tokio
//! runtime keeps running until `stop`, so the query front can still forward requests and drain while the
//! frontend shuts down. The core is not restarted in-process: that would mean re-publishing every route
//! and re-accepting every replica, which a supervisor restart of the whole server does from durable state.

mod failure;
pub mod router;
pub mod submit;
#[cfg(test)]
pub mod testing;

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use self::router::{Inbound, Router};
use crate::cache::PredictionCache;
use crate::completion::{Completion, CompletionQueue};
use crate::engine::{lock, Command, Counters, Engine, EngineConfig, ModelTable, Snapshot};
use submit::Admission;

const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// The longest the engine sleeps without looking at the clock.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// State shared between the core thread and its callers.
pub struct Shared {
    commands: Mutex<Vec<Command>>,
    wake: Notify,
    wake_pending: AtomicBool,
    stopping: AtomicBool,
    failed: AtomicBool,
    /// Why the core thread failed (a panic's message and location); set once with `failed`.
    failure: Mutex<Option<String>>,
    /// Makes the engine's next turn panic (`inject_panic`).
    panic_requested: AtomicBool,
    /// The engine's published facts for skipping wake-ups (see the module doc): whether it could act on a
    /// submission at once, and its next timed wake-up in microseconds since `epoch`.
    could_act: AtomicBool,
    next_wakeup_micros: AtomicU64,
    epoch: Instant,
    snapshot: Mutex<Option<Snapshot>>,
    pub completions: CompletionQueue,
    pub table: Arc<ModelTable>,
    /// Read by submitters on their own thread, filled by the engine as models answer.
    pub cache: Arc<Mutex<PredictionCache>>,
    /// Queries submitted and not yet answered, in all and per model, for admission control (`submit`).
    pub outstanding: AtomicUsize,
    outstanding_per_model: Mutex<HashMap<u32, usize>>,
    admission: Admission,
    /// What load control turned away, reported with the engine's counters.
    pub load: LoadCounters,
    next_query_id: AtomicU64,
    /// Queries whose answer goes to a channel rather than the completion queue (`submit::Reply`).
    waiters: Mutex<HashMap<u64, tokio::sync::oneshot::Sender<Completion>>>,
    /// Container connections the router closed for announcing a frame over `--max-frame-bytes`; counted
    /// there, reported with the engine's counters.
    pub oversized_frames: AtomicU64,
}

/// What load control turned away, counted where it happens (submission, the query port's connections);
/// `/metrics` reports them under `core`.
#[derive(Default)]
pub struct LoadCounters {
    pub submissions_overloaded: AtomicU64,
    pub submissions_too_large: AtomicU64,
    pub connections_refused: AtomicU64,
    pub header_timeouts: AtomicU64,
    pub body_timeouts: AtomicU64,
    pub idle_timeouts: AtomicU64,
}

impl LoadCounters {
    fn read_into(&self, counters: &mut Counters) {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        counters.submissions_overloaded = read(&self.submissions_overloaded);
        counters.submissions_too_large = read(&self.submissions_too_large);
        counters.connections_refused = read(&self.connections_refused);
        counters.header_timeouts = read(&self.header_timeouts);
        counters.body_timeouts = read(&self.body_timeouts);
        counters.idle_timeouts = read(&self.idle_timeouts);
    }
}

/// Returned when the core thread has stopped.
#[derive(Debug)]
pub struct Stopped;

impl Shared {
    pub fn send(&self, command: Command) -> Result<(), Stopped> {
        if self.stopping.load(Ordering::Acquire) || self.failed.load(Ordering::Acquire) {
            return Err(Stopped);
        }
        let needs_wake = match &command {
            Command::Submit { queries, .. } => {
                queries.iter().map(|q| q.deadline).min().is_none_or(|d| {
                    self.could_act.load(Ordering::SeqCst)
                        || self.micros_since_epoch(d)
                            < self.next_wakeup_micros.load(Ordering::SeqCst)
                })
            }
            _ => true,
        };
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(command);
        if needs_wake {
            self.nudge();
        }
        Ok(())
    }

    /// Wakes the engine task, once per burst: the engine clears `wake_pending` before it looks for work.
    fn nudge(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            self.wake.notify_one();
        }
    }

    fn lock_waiters(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, tokio::sync::oneshot::Sender<Completion>>> {
        self.waiters.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn micros_since_epoch(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// Publishes the engine's facts for skipping wake-ups; true when commands arrived meanwhile (the
    /// engine must then take another turn instead of sleeping).
    fn publish_wake_facts(&self, engine: &Engine) -> bool {
        self.could_act
            .store(engine.could_act_on_submit(), Ordering::SeqCst);
        self.next_wakeup_micros.store(
            self.micros_since_epoch(engine.next_wakeup()),
            Ordering::SeqCst,
        );
        !self
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// The engine's last published snapshot, with the cache figures read now (the cache is shared, so
    /// they need not wait for a publication).
    pub fn snapshot(&self) -> Option<Snapshot> {
        let mut snapshot = self
            .snapshot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        snapshot.cache = lock(&self.cache).stats();
        snapshot.counters.oversized_frames = self.oversized_frames.load(Ordering::Relaxed);
        self.load.read_into(&mut snapshot.counters);
        Some(snapshot)
    }
}

pub struct Runtime {
    pub shared: Arc<Shared>,
    /// Where the HTTP front spawns its tasks, so that they share the engine's thread.
    pub handle: tokio::runtime::Handle,
    /// The RPC socket's bound address (its port when the endpoint asked for any).
    pub rpc_address: SocketAddr,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Binds `address` for tasks on `runtime`. The bind itself happens on the caller's thread, so a taken port
/// is reported to the caller rather than discovered later on the core thread.
fn listen(
    runtime: &tokio::runtime::Handle,
    address: impl ToSocketAddrs,
) -> std::io::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = std::net::TcpListener::bind(address)?;
    let bound = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    // Registering with the runtime's I/O driver needs its context.
    let _entered = runtime.enter();
    Ok((tokio::net::TcpListener::from_std(listener)?, bound))
}

/// The address in a `tcp://host:port` endpoint; `*` stands for every interface, as in ZeroMQ.
fn tcp_address(endpoint: &str) -> Option<(&str, u16)> {
    let (host, port) = endpoint.strip_prefix("tcp://")?.rsplit_once(':')?;
    let host = match host {
        "*" => "0.0.0.0",
        _ => host.trim_start_matches('[').trim_end_matches(']'),
    };
    Some((host, port.parse().ok()?))
}

impl Runtime {
    /// Binds the RPC socket at `endpoint` (`tcp://host:port`, e.g. `tcp://127.0.0.1:7000`) and starts the
    /// core thread, with a prediction cache of `cache_capacity_bytes` (zero: none), the bounds of
    /// `admission` on queries submitted and not yet answered, and containers disconnected when they
    /// announce a frame over `max_frame_bytes`.
    pub fn start(
        endpoint: &str,
        config: EngineConfig,
        cache_capacity_bytes: usize,
        admission: Admission,
        max_frame_bytes: usize,
    ) -> Result<Runtime, String> {
        let cannot_bind =
            |why: String| format!("Cannot bind the RPC endpoint \"{endpoint}\": {why}");
        let address =
            tcp_address(endpoint).ok_or_else(|| cannot_bind("expected tcp://host:port".into()))?;
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("Cannot start the core thread: {e}"))?;
        let (listener, rpc_address) =
            listen(tokio.handle(), address).map_err(|e| cannot_bind(e.to_string()))?;
        let table = Arc::new(ModelTable::default());
        let cache = Arc::new(Mutex::new(PredictionCache::new(cache_capacity_bytes)));
        let shared = Arc::new(Shared {
            commands: Mutex::new(Vec::new()),
            wake: Notify::new(),
            wake_pending: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            panic_requested: AtomicBool::new(false),
            could_act: AtomicBool::new(true),
            next_wakeup_micros: AtomicU64::new(0),
            epoch: Instant::now(),
            snapshot: Mutex::new(None),
            completions: CompletionQueue::default(),
            table: table.clone(),
            cache: cache.clone(),
            outstanding: AtomicUsize::new(0),
            outstanding_per_model: Mutex::new(HashMap::new()),
            admission,
            load: LoadCounters::default(),
            next_query_id: AtomicU64::new(1),
            waiters: Mutex::new(HashMap::new()),
            oversized_frames: AtomicU64::new(0),
        });
        let engine = Engine::new(config, table, cache, Instant::now());
        let handle = tokio.handle().clone();
        let thread_shared = shared.clone();
        failure::install_panic_hook();
        let thread = std::thread::Builder::new()
            .name(failure::CORE_THREAD.into())
            .spawn(move || {
                tokio.block_on(async move {
                    let router = Arc::new(Router::new(max_frame_bytes));
                    tokio::spawn(router.clone().accept(listener, thread_shared.clone()));
                    if let Err(why) = run(&thread_shared, &router, engine).await {
                        thread_shared.fail(why);
                        // Serve on (the query front forwards and drains) until stopped.
                        while !thread_shared.stopping.load(Ordering::Acquire) {
                            thread_shared.wake.notified().await;
                        }
                    }
                });
                // Dropping the runtime here ends every task on it: connections, the front, the listener.
            })
            .map_err(|e| format!("Cannot start the core thread: {e}"))?;
        Ok(Runtime {
            shared,
            handle,
            rpc_address,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the core thread and closes the completion queue. Idempotent.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
        self.shared.completions.close();
        // Channel receivers see their sender dropped: the query was abandoned.
        self.shared.lock_waiters().clear();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs the engine until stopped; `Err` carries why a turn panicked (the engine is then gone).
async fn run(shared: &Shared, router: &Router, mut engine: Engine) -> Result<(), String> {
    let mut next_snapshot = Instant::now();
    let mut more_commands = false;
    while !shared.stopping.load(Ordering::Acquire) {
        if more_commands {
            // Let the tasks on this thread run between turns.
            tokio::task::yield_now().await;
        } else {
            let until = engine.next_wakeup().min(Instant::now() + MAX_SLEEP);
            tokio::select! {
                () = shared.wake.notified() => {}
                () = tokio::time::sleep_until(until.into()) => {}
            }
        }
        // A turn never awaits, so one `catch_unwind` around it contains any panic of the engine's.
        let turn = || turn(shared, router, &mut engine, &mut next_snapshot);
        more_commands = failure::contain(turn)?;
    }
    Ok(())
}

/// One engine turn: commands, container messages, timers, then answers out. True when commands arrived
/// meanwhile.
fn turn(
    shared: &Shared,
    router: &Router,
    engine: &mut Engine,
    next_snapshot: &mut Instant,
) -> bool {
    shared.wake_pending.store(false, Ordering::Release);
    if shared.panic_requested.swap(false, Ordering::AcqRel) {
        panic!("Fault injection: a panic was requested on the core thread");
    }
    let now = Instant::now();
    let commands = std::mem::take(&mut *shared.commands.lock().unwrap_or_else(|p| p.into_inner()));
    for command in commands {
        engine.apply(command, now);
    }
    for inbound in router.take_inbound() {
        match inbound {
            Inbound::Message(identity, frames) => {
                let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
                engine.on_message(&identity, &frames, now);
            }
            Inbound::Gone(identity) => engine.on_unreachable(&identity, now),
        }
    }
    engine.on_tick(Instant::now());
    // Dropping an unreachable replica can requeue its batch to another one, refilling the outbox.
    while !engine.outbox.is_empty() {
        let mut unreachable = Vec::new();
        for (identity, message) in engine.outbox.drain(..) {
            if !router.send(&identity, &message) {
                unreachable.push(identity);
            }
        }
        for identity in unreachable {
            engine.on_unreachable(&identity, Instant::now());
        }
    }
    // Published before the answers go out, so a client that saw an answer sees the membership it
    // came from (a replica whose loss answered it is already gone).
    let now = Instant::now();
    if engine.take_membership_changed() || now >= *next_snapshot {
        *shared.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(engine.snapshot(now));
        *next_snapshot = now + SNAPSHOT_EVERY;
    }
    if !engine.done.is_empty() {
        shared.deliver(&mut engine.done);
        for (model, answered) in engine.answered.drain() {
            shared.release(model, answered);
        }
    }
    shared.publish_wake_facts(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_name_a_tcp_host_and_port_with_star_for_every_interface() {
        assert_eq!(
            tcp_address("tcp://127.0.0.1:7000"),
            Some(("127.0.0.1", 7000))
        );
        assert_eq!(tcp_address("tcp://*:7000"), Some(("0.0.0.0", 7000)));
        assert_eq!(tcp_address("tcp://[::1]:7000"), Some(("::1", 7000)));
        assert_eq!(tcp_address("ipc:///tmp/clipper"), None);
        assert_eq!(tcp_address("tcp://127.0.0.1"), None);
        assert_eq!(tcp_address("tcp://127.0.0.1:70000"), None);
    }

    #[test]
    fn an_endpoint_that_cannot_be_bound_is_refused_naming_it() {
        let start = |endpoint| {
            Runtime::start(
                endpoint,
                EngineConfig::default(),
                0,
                Admission::total(1),
                crate::rpc::zmtp::MAX_MESSAGE_BYTES,
            )
            .err()
        };
        let refused = start("inproc://clipper").unwrap();
        assert!(refused.starts_with("Cannot bind the RPC endpoint \"inproc://clipper\""));
        let taken = Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            Admission::total(1),
            crate::rpc::zmtp::MAX_MESSAGE_BYTES,
        )
        .unwrap();
        let endpoint = format!("tcp://127.0.0.1:{}", taken.rpc_address.port());
        assert!(start(&endpoint).is_some());
    }
}
