//! The engine thread: the one thread that owns the ZeroMQ ROUTER socket and the engine.
//!
//! Owns the clock, the socket and the wake-up path. Callers on other threads talk to it only through
//! `Shared`: commands go into one mutex-guarded vector and an eventfd wakes the poll loop; answers come
//! back through the completion queue. Must not make decisions about queries: that is the engine's job.
//!
//! Waking is the costly part (a syscall for the submitter, a context switch for the engine), so it is
//! skipped when it cannot change anything: a submission needs no wake-up while every replica is busy and
//! every model has one (its queries can only leave with the next answer, which wakes the engine anyway)
//! and its deadline is no earlier than the engine's own next wake-up. Under load that turns one wake-up per request into about
//! one per batch. The engine publishes both facts after each turn and then looks at the command vector
//! once more, so a submitter that read stale facts is always seen.

pub mod submit;

use std::collections::HashMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cache::PredictionCache;
use crate::completion::{Completion, CompletionQueue};
use crate::engine::{lock, Command, Engine, EngineConfig, ModelTable, Snapshot};

const SNAPSHOT_EVERY: Duration = Duration::from_millis(250);
/// Upper bound on messages received per loop turn, so timers and sends are never starved.
const RECV_BURST: usize = 4096;

/// State shared between the engine thread and its callers.
pub struct Shared {
    commands: Mutex<Vec<Command>>,
    wake_fd: RawFd,
    wake_pending: AtomicBool,
    stopping: AtomicBool,
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
    /// Queries submitted and not yet answered, for admission control.
    pub outstanding: AtomicUsize,
    max_outstanding: usize,
    next_query_id: AtomicU64,
    /// Queries whose answer goes to a channel rather than the completion queue (`submit::Reply`).
    waiters: Mutex<HashMap<u64, tokio::sync::oneshot::Sender<Completion>>>,
}

/// Returned when the engine thread has stopped.
#[derive(Debug)]
pub struct Stopped;

impl Shared {
    pub fn send(&self, command: Command) -> Result<(), Stopped> {
        if self.stopping.load(Ordering::Acquire) {
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
        // One eventfd write per burst: the engine clears `wake_pending` before it drains commands.
        if needs_wake && !self.wake_pending.swap(true, Ordering::AcqRel) {
            self.wake();
        }
        Ok(())
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

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes from a valid u64 to an eventfd we own; a full counter only means a
        // wake-up is already due, so the result needs no handling.
        unsafe { libc::write(self.wake_fd, (&one as *const u64).cast(), 8) };
    }

    fn clear_wake(&self) {
        let mut value: u64 = 0;
        // SAFETY: reading 8 bytes into a valid u64 from a non-blocking eventfd we own.
        unsafe { libc::read(self.wake_fd, (&mut value as *mut u64).cast(), 8) };
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
        Some(snapshot)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: the fd was opened by `Runtime::start` and is closed exactly once, here.
        unsafe { libc::close(self.wake_fd) };
    }
}

pub struct Runtime {
    pub shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Runtime {
    /// Binds the ROUTER socket at `endpoint` (e.g. `tcp://127.0.0.1:7000`) and starts the engine thread,
    /// with a prediction cache of `cache_capacity_bytes` (zero: none) and at most `max_outstanding`
    /// queries submitted and not yet answered.
    pub fn start(
        endpoint: &str,
        config: EngineConfig,
        cache_capacity_bytes: usize,
        max_outstanding: usize,
    ) -> Result<Runtime, String> {
        let context = zmq::Context::new();
        let socket = context
            .socket(zmq::ROUTER)
            .map_err(|e| format!("Cannot create the RPC socket: {e}"))?;
        socket
            .set_linger(0)
            .map_err(|e| format!("Cannot configure the RPC socket: {e}"))?;
        // No high-water mark: admission control happens at submit, not by silently dropped frames.
        socket
            .set_sndhwm(0)
            .map_err(|e| format!("Cannot configure the RPC socket: {e}"))?;
        socket
            .set_rcvhwm(0)
            .map_err(|e| format!("Cannot configure the RPC socket: {e}"))?;
        // Report sends to peers whose connection is gone, so dead replicas are dropped at once.
        socket
            .set_router_mandatory(true)
            .map_err(|e| format!("Cannot configure the RPC socket: {e}"))?;
        socket
            .bind(endpoint)
            .map_err(|e| format!("Cannot bind the RPC endpoint \"{endpoint}\": {e}"))?;
        // SAFETY: plain syscall; the result is checked.
        let wake_fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if wake_fd < 0 {
            return Err(format!(
                "Cannot create the wake-up eventfd: {}",
                std::io::Error::last_os_error()
            ));
        }
        let table = Arc::new(ModelTable::default());
        let cache = Arc::new(Mutex::new(PredictionCache::new(cache_capacity_bytes)));
        let shared = Arc::new(Shared {
            commands: Mutex::new(Vec::new()),
            wake_fd,
            wake_pending: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            could_act: AtomicBool::new(true),
            next_wakeup_micros: AtomicU64::new(0),
            epoch: Instant::now(),
            snapshot: Mutex::new(None),
            completions: CompletionQueue::default(),
            table: table.clone(),
            cache: cache.clone(),
            outstanding: AtomicUsize::new(0),
            max_outstanding,
            next_query_id: AtomicU64::new(1),
            waiters: Mutex::new(HashMap::new()),
        });
        let engine = Engine::new(config, table, cache, Instant::now());
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("clipper-engine".into())
            .spawn(move || {
                // The context must outlive the socket; both die with the thread.
                let _context = context;
                run(socket, &thread_shared, engine);
            })
            .map_err(|e| format!("Cannot start the engine thread: {e}"))?;
        Ok(Runtime {
            shared,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Stops the engine thread and closes the completion queue. Idempotent.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::Release);
        self.shared.wake();
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

fn run(socket: zmq::Socket, shared: &Shared, mut engine: Engine) {
    let mut frames: Vec<zmq::Message> = Vec::new();
    let mut next_snapshot = Instant::now();
    let mut more_commands = false;
    while !shared.stopping.load(Ordering::Acquire) {
        let wait = engine
            .next_wakeup()
            .saturating_duration_since(Instant::now());
        let timeout_ms = if more_commands {
            0
        } else {
            wait.as_micros().div_ceil(1000).min(1000) as i64
        };
        let mut items = [
            socket.as_poll_item(zmq::POLLIN),
            zmq::PollItem::from_fd(shared.wake_fd, zmq::POLLIN),
        ];
        if let Err(err) = zmq::poll(&mut items, timeout_ms) {
            if err != zmq::Error::EINTR {
                eprintln!("clipper core: polling the RPC socket failed: {err}");
            }
            continue;
        }
        let (socket_ready, woken) = (items[0].is_readable(), items[1].is_readable());
        let now = Instant::now();
        if woken {
            shared.clear_wake();
        }
        shared.wake_pending.store(false, Ordering::Release);
        let commands =
            std::mem::take(&mut *shared.commands.lock().unwrap_or_else(|p| p.into_inner()));
        for command in commands {
            engine.apply(command, now);
        }
        if socket_ready {
            for _ in 0..RECV_BURST {
                if !receive(&socket, &mut frames) {
                    break;
                }
                if let Some((identity, rest)) = frames.split_first() {
                    let rest: Vec<&[u8]> = rest.iter().map(|m| &m[..]).collect();
                    engine.on_message(identity, &rest, now);
                }
            }
        }
        engine.on_tick(Instant::now());
        // Dropping an unreachable replica can requeue its batch to another one, refilling the outbox.
        while !engine.outbox.is_empty() {
            let mut unreachable = Vec::new();
            for (identity, message) in engine.outbox.drain(..) {
                if !send(&socket, &identity, &message) {
                    unreachable.push(identity);
                }
            }
            for identity in unreachable {
                engine.on_unreachable(&identity, Instant::now());
            }
        }
        let answered = engine.done.len();
        if answered > 0 {
            shared.deliver(&mut engine.done);
            shared.outstanding.fetch_sub(answered, Ordering::AcqRel);
        }
        let now = Instant::now();
        if engine.take_membership_changed() || now >= next_snapshot {
            *shared.snapshot.lock().unwrap_or_else(|p| p.into_inner()) = Some(engine.snapshot(now));
            next_snapshot = now + SNAPSHOT_EVERY;
        }
        more_commands = shared.publish_wake_facts(&engine);
    }
}

/// Receives one whole multipart message without blocking; false when none is waiting.
fn receive(socket: &zmq::Socket, frames: &mut Vec<zmq::Message>) -> bool {
    frames.clear();
    loop {
        let mut message = zmq::Message::new();
        let flags = if frames.is_empty() { zmq::DONTWAIT } else { 0 };
        match socket.recv(&mut message, flags) {
            Ok(()) => {
                let more = message.get_more();
                frames.push(message);
                if !more {
                    return true;
                }
            }
            Err(zmq::Error::EAGAIN) => return false,
            Err(err) => {
                eprintln!("clipper core: receiving from the RPC socket failed: {err}");
                return false;
            }
        }
    }
}

/// Sends one message; false when the peer is unreachable (its connection has closed).
fn send(socket: &zmq::Socket, identity: &[u8], message: &[crate::rpc::Frame]) -> bool {
    let result = socket.send(identity, zmq::SNDMORE).and_then(|()| {
        let last = message.len().saturating_sub(1);
        message.iter().enumerate().try_for_each(|(i, frame)| {
            socket.send(frame.as_ref(), if i < last { zmq::SNDMORE } else { 0 })
        })
    });
    match result {
        Ok(()) => true,
        Err(zmq::Error::EHOSTUNREACH) => false,
        Err(err) => {
            eprintln!("clipper core: sending to a container failed: {err}");
            true
        }
    }
}
