//! The engine: one single-threaded state machine that turns submissions, container messages and the
//! passage of time into outbound frames and completions.
//!
//! Owns the life of every query from submission to its one answer: queued (per-model deadline queue), in
//! flight (a batch sent to a replica), or answered (exactly once: `pending` is the single source of truth).
//! Must not touch sockets or read the clock: `runtime` feeds it messages and `now`, then sends `outbox` and
//! hands `done` to the completion queue. That is what lets tests drive it with a fake clock.
//!
//! For admission (`runtime::submit`) it also says, per model, how many queries it answered (`answered`).

mod coalesce;
pub mod models;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::batching::{sizer_for, BatchSizer, Batching, LatencyFit};
use crate::cache::{CacheStats, PredictionCache};
use crate::completion::{Completion, Status};
use crate::queue::{DeadlineQueue, Query};
use crate::registry::{unix_millis, Identity, Registry, ReplicaSnapshot};
use crate::rpc::{
    decode_container_message, encode_heartbeat, encode_prediction_request, Announcement,
    ContainerMessage, Frame, HeartbeatKind, InputType, RPC_VERSION,
};
use coalesce::Coalescer;
pub use models::ModelTable;

const LIVENESS_CHECK_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// A replica silent this long is dropped (the original's 30 s).
    pub replica_timeout: Duration,
    /// A replica silent this long *while working on a batch* is dropped: single-threaded containers
    /// cannot heartbeat during a long batch, and that must not get a live container declared dead.
    pub busy_replica_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            replica_timeout: Duration::from_secs(30),
            busy_replica_timeout: Duration::from_secs(300),
        }
    }
}

/// Work handed to the engine by the frontend.
pub enum Command {
    /// Register or reconfigure a model version the frontend will submit to.
    Configure {
        model: u32,
        input_type: InputType,
        batching: Batching,
        latency_objective: Duration,
    },
    /// Stop serving a model version: its waiting queries are answered `Dropped`.
    Remove {
        model: u32,
    },
    Submit {
        model: u32,
        queries: Vec<Query>,
    },
}

/// Counters the frontend reports under `/metrics`.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Counters {
    pub malformed_messages: u64,
    pub refused_containers: u64,
    pub unknown_responses: u64,
    pub batches_sent: u64,
    pub replicas_lost: u64,
    pub queries_requeued: u64,
    /// Queries answered by the model call of an identical query (same version, same input bytes).
    pub queries_coalesced: u64,
    /// Queries of a lost replica's batch answered with their default at once: no other replica could
    /// have answered them by their deadline.
    pub queries_defaulted_on_replica_loss: u64,
    /// Filled in by `runtime::Shared::snapshot` from the router's count.
    pub oversized_frames: u64,
    /// Load control's, filled from `runtime::LoadCounters` when a snapshot is read (the engine sees none
    /// of it).
    pub submissions_overloaded: u64,
    pub submissions_too_large: u64,
    pub connections_refused: u64,
    pub header_timeouts: u64,
    pub body_timeouts: u64,
    pub idle_timeouts: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Snapshot {
    pub replicas: Vec<ReplicaSnapshot>,
    pub counters: Counters,
    pub queued_queries: usize,
    pub inflight_batches: usize,
    pub cache: CacheStats,
}

struct Model {
    name: String,
    version: String,
    input_type: InputType,
    /// False for a version that containers serve but the frontend has not registered (or has removed).
    configured: bool,
    sizer: Box<dyn BatchSizer>,
    /// Its batches' p99 latency against their size, for the quantile sizer and the batch delay's bound.
    fit: LatencyFit,
    /// How long a partial batch may wait for more queries (`batch_delay_micros`).
    delay: Duration,
    /// While a partial batch is held: when the hold ends (the engine's wake-up).
    release_at: Option<Instant>,
    queue: DeadlineQueue,
    coalescer: Coalescer,
    /// A moving average of its batches' round trips: a query with less time left than this would be
    /// computed only to miss its deadline, taking the replica from queries that can still make theirs.
    round_trip: Duration,
}

impl Model {
    fn new(name: String, version: String, input_type: InputType, configured: bool) -> Model {
        Model {
            name,
            version,
            input_type,
            configured,
            sizer: sizer_for(Batching::sized(1), Duration::MAX),
            fit: LatencyFit::default(),
            delay: Duration::ZERO,
            release_at: None,
            queue: DeadlineQueue::default(),
            coalescer: Coalescer::default(),
            round_trip: Duration::ZERO,
        }
    }

    fn label(&self) -> String {
        format!("{}:{}", self.name, self.version)
    }

    /// Weighs each new round trip by an eighth, so one slow batch does not shed a queue.
    fn observe(&mut self, size: usize, latency: Duration) {
        self.sizer.observe(size, latency);
        self.fit.observe(size, latency);
        self.round_trip = if self.round_trip.is_zero() {
            latency
        } else {
            (self.round_trip * 7 + latency) / 8
        };
    }

    /// The most queries the next batch may hold: the sizer's answer for the time left to the earliest
    /// deadline waiting.
    fn max_batch(&self, now: Instant) -> usize {
        let slack = self
            .queue
            .first()
            .map_or(Duration::MAX, |q| q.deadline.saturating_duration_since(now));
        self.sizer.max_batch(slack, &self.fit)
    }

    /// Whether an idle replica should wait for more queries rather than take a batch of fewer than `max`
    /// now: only with a delay set, until the query first in line has waited that long since its
    /// submission (queries that queued while the replica was busy have often waited it already), and never
    /// past the moment a batch could still answer the earliest deadline waiting (its estimated p99 latency
    /// before it, or twice the mean round trip while too few batches were seen to estimate a tail). A
    /// model with no batch seen yet is not held: nothing bounds the wait.
    fn hold(&mut self, max: usize, now: Instant) -> bool {
        let waiting = self.queue.len();
        let latency = match self.fit.line() {
            Some(line) => Some(line.p99(waiting + 1)),
            None => (!self.round_trip.is_zero()).then_some(self.round_trip * 2),
        };
        let release = match (self.queue.first(), latency) {
            (Some(first), Some(latency)) if !self.delay.is_zero() && waiting < max => {
                let bound = first.deadline.checked_sub(latency).unwrap_or(now);
                (first.submitted + self.delay).min(bound)
            }
            _ => now,
        };
        self.release_at = (release > now).then_some(release);
        self.release_at.is_some()
    }
}

/// What an answer says of the query's time: its batch's round trip and size, and its own wait before the
/// batch was sent (all zero for a query no batch answered).
#[derive(Clone, Copy, Default)]
struct Timing {
    latency: Duration,
    batch_size: usize,
    queued: Duration,
}

impl Timing {
    fn of(q: &Query, batch: &Inflight, latency: Duration) -> Timing {
        Timing {
            latency,
            batch_size: batch.queries.len(),
            queued: batch.sent_at.saturating_duration_since(q.submitted),
        }
    }
}

struct Inflight {
    identity: Identity,
    model: u32,
    queries: Vec<Query>,
    sent_at: Instant,
}

enum BatchResult<'a> {
    Outputs(Vec<&'a [u8]>),
    Failed(String),
}

pub struct Engine {
    config: EngineConfig,
    table: Arc<ModelTable>,
    /// Shared with `clipper_submit`, which answers hits on the caller's thread.
    cache: Arc<Mutex<PredictionCache>>,
    models: HashMap<u32, Model>,
    registry: Registry,
    /// Each query not yet answered, with its model.
    pending: HashMap<u64, u32>,
    timers: crate::timer::DeadlineHeap,
    inflight: HashMap<u32, Inflight>,
    next_msg_id: u32,
    next_liveness_check: Instant,
    counters: Counters,
    membership_changed: bool,
    /// Messages to send: routing identity, then frames.
    pub outbox: Vec<(Identity, Vec<Frame>)>,
    /// Answered queries, to hand to the completion queue.
    pub done: Vec<Completion>,
    /// How many of `done` each model's were, for admission control; drained with `done`.
    pub answered: HashMap<u32, usize>,
}

impl Engine {
    pub fn new(
        config: EngineConfig,
        table: Arc<ModelTable>,
        cache: Arc<Mutex<PredictionCache>>,
        now: Instant,
    ) -> Engine {
        Engine {
            config,
            table,
            cache,
            models: HashMap::new(),
            registry: Registry::default(),
            pending: HashMap::new(),
            timers: Default::default(),
            inflight: HashMap::new(),
            next_msg_id: 0,
            next_liveness_check: now + LIVENESS_CHECK_EVERY,
            counters: Counters::default(),
            membership_changed: false,
            outbox: Vec::new(),
            done: Vec::new(),
            answered: HashMap::new(),
        }
    }

    /// When the engine next has timed work (a deadline or a liveness check).
    pub fn next_wakeup(&self) -> Instant {
        let held = self.models.values().filter_map(|m| m.release_at);
        self.timers
            .next_deadline()
            .into_iter()
            .chain(held)
            .fold(self.next_liveness_check, Instant::min)
    }

    /// Whether a query submitted now might be acted on at once: some replica has no batch in flight (it
    /// could be dispatched), or some model has no replica (it is answered at once). When false, new queries
    /// can wait for the engine's next turn, and whoever submits them need not wake it.
    pub fn could_act_on_submit(&self) -> bool {
        self.registry.iter().any(|(_, r)| r.busy_with.is_none())
            || self
                .models
                .iter()
                .any(|(id, m)| m.configured && !self.registry.has_replica_for(*id))
    }

    /// Whether the replica set changed since the last call (the runtime then republishes the snapshot).
    pub fn take_membership_changed(&mut self) -> bool {
        std::mem::take(&mut self.membership_changed)
    }

    pub fn apply(&mut self, command: Command, now: Instant) {
        match command {
            Command::Configure {
                model,
                input_type,
                batching,
                latency_objective,
            } => {
                let (name, version) = self.table.key(model).unwrap_or_default();
                let entry = self
                    .models
                    .entry(model)
                    .or_insert_with(|| Model::new(name, version, input_type, true));
                entry.input_type = input_type;
                entry.configured = true;
                entry.sizer = sizer_for(batching, latency_objective);
                entry.delay = batching.delay;
                self.dispatch(model, now);
            }
            Command::Remove { model } => self.remove_model(model),
            Command::Submit { model, queries } => self.submit(model, queries, now),
        }
    }

    fn submit(&mut self, model_id: u32, queries: Vec<Query>, now: Instant) {
        let Some(model) = self.models.get_mut(&model_id).filter(|m| m.configured) else {
            let why = format!("Model id {model_id} is not registered with the serving core");
            *self.answered.entry(model_id).or_default() += queries.len();
            for q in queries {
                self.done.push(Completion::without_model(
                    q.id,
                    Status::Dropped,
                    why.clone().into_bytes(),
                ));
            }
            return;
        };
        if !self.registry.has_replica_for(model_id) {
            *self.answered.entry(model_id).or_default() += queries.len();
            for q in queries {
                self.done.push(Completion::without_model(
                    q.id,
                    Status::NoConnectedModel,
                    Vec::new(),
                ));
            }
            return;
        }
        for q in queries {
            self.pending.insert(q.id, model_id);
            self.timers.push(q.deadline, q.id);
            if let Some(q) = model.coalescer.follow(q) {
                model.queue.push(q);
            }
        }
        self.dispatch(model_id, now);
    }

    fn remove_model(&mut self, model_id: u32) {
        let Some(model) = self.models.get_mut(&model_id) else {
            return;
        };
        model.configured = false;
        lock(&self.cache).remove_model(model_id);
        let why = format!(
            "Model \"{}\" was removed while the query waited",
            model.label()
        );
        let mut ids: Vec<u64> = model.queue.drain().into_iter().map(|q| q.id).collect();
        ids.extend(model.coalescer.clear().into_iter().map(|q| q.id));
        for batch in self.inflight.values().filter(|b| b.model == model_id) {
            ids.extend(batch.queries.iter().map(|q| q.id));
        }
        for id in ids {
            self.answer(
                id,
                Status::Dropped,
                why.clone().into_bytes(),
                Timing::default(),
            );
        }
    }

    /// Answers a query unless it already was; this is the only place completions are made for pending
    /// queries, so nothing is answered twice. True when this call answered it.
    fn answer(&mut self, id: u64, status: Status, payload: Vec<u8>, timing: Timing) -> bool {
        let answered = self.pending.remove(&id);
        if let Some(model) = answered {
            *self.answered.entry(model).or_default() += 1;
            let micros = |d: Duration| d.as_micros().min(u32::MAX as u128) as u32;
            self.done.push(Completion {
                id,
                status,
                latency_micros: micros(timing.latency),
                batch_size: timing.batch_size as u32,
                queue_micros: micros(timing.queued),
                payload,
            });
        }
        answered.is_some()
    }

    fn send(&mut self, identity: Identity, frames: Vec<Frame>) {
        self.outbox.push((identity, frames));
    }

    pub fn on_message(&mut self, identity: &[u8], frames: &[&[u8]], now: Instant) {
        let message = match decode_container_message(frames) {
            Ok(message) => message,
            Err(err) => {
                self.counters.malformed_messages += 1;
                // Garbage from one peer must not flood the log: report the first few, then every 1000th.
                if self.counters.malformed_messages <= 5
                    || self.counters.malformed_messages.is_multiple_of(1000)
                {
                    eprintln!("clipper core: ignored malformed container message ({err})");
                }
                return;
            }
        };
        let known = match self.registry.get_mut(identity) {
            Some(replica) => {
                replica.last_seen = now;
                true
            }
            None => false,
        };
        match message {
            ContainerMessage::Heartbeat => {
                let kind = if known {
                    HeartbeatKind::KeepAlive
                } else {
                    HeartbeatKind::RequestMetadata
                };
                self.send(identity.to_vec(), encode_heartbeat(kind));
            }
            ContainerMessage::NewContainer(announced) => {
                if !known {
                    self.connect(identity, &announced, now);
                }
            }
            ContainerMessage::Response { msg_id, outputs } if known => {
                self.finish_batch(identity, msg_id, BatchResult::Outputs(outputs), now)
            }
            ContainerMessage::BatchError { msg_id, message } if known => {
                let why = format!("Model container failed the batch: {message}");
                self.finish_batch(identity, msg_id, BatchResult::Failed(why), now)
            }
            ContainerMessage::Leaving => self.drop_replica(identity, now),
            // A response from a container we do not know (we restarted, or it was dropped as silent):
            // ask who it is; its queries were answered or requeued when it was dropped.
            ContainerMessage::Response { .. } | ContainerMessage::BatchError { .. } => {
                self.counters.unknown_responses += 1;
                self.send(
                    identity.to_vec(),
                    encode_heartbeat(HeartbeatKind::RequestMetadata),
                );
            }
        }
    }

    fn connect(&mut self, identity: &[u8], announced: &Announcement<'_>, now: Instant) {
        let Announcement {
            name,
            version,
            input_type,
            rpc_version: rpc,
            replica,
        } = *announced;
        let label = format!("{name}:{version}");
        if rpc != RPC_VERSION {
            self.counters.refused_containers += 1;
            eprintln!("clipper core: refused container for model \"{label}\": RPC version {rpc}, expected {RPC_VERSION}");
            return;
        }
        let model_id = self.table.id_for(name, version);
        let model = self
            .models
            .entry(model_id)
            .or_insert_with(|| Model::new(name.to_owned(), version.to_owned(), input_type, false));
        if model.configured && model.input_type != input_type {
            self.counters.refused_containers += 1;
            eprintln!(
                "clipper core: refused container for model \"{label}\": input type \"{}\", model takes \"{}\"",
                input_type.name(),
                model.input_type.name()
            );
            return;
        }
        let replica = self
            .registry
            .add(identity.to_vec(), model_id, replica, input_type, now);
        eprintln!(
            "clipper core: container connected for model \"{label}\" (replica {})",
            replica.replica_id
        );
        self.membership_changed = true;
        self.dispatch(model_id, now);
    }

    fn finish_batch(
        &mut self,
        identity: &[u8],
        msg_id: u32,
        result: BatchResult<'_>,
        now: Instant,
    ) {
        let Some(batch) = self
            .inflight
            .remove(&msg_id)
            .filter(|b| b.identity == identity)
        else {
            self.counters.unknown_responses += 1;
            return;
        };
        if let Some(replica) = self.registry.get_mut(identity) {
            replica.busy_with = None;
            replica.batches_completed += 1;
        }
        let latency = now.saturating_duration_since(batch.sent_at);
        let size = batch.queries.len();
        // Each query's followers get what it gets.
        let mut followers = Vec::with_capacity(size);
        if let Some(model) = self.models.get_mut(&batch.model) {
            model.observe(size, latency);
            for q in &batch.queries {
                followers.push(model.coalescer.finish(q));
            }
        }
        followers.resize_with(size, Vec::new);
        let failure = match result {
            BatchResult::Outputs(outputs) if outputs.len() == size => {
                // Only a query still waiting may fill the cache: one answered otherwise (its model removed,
                // say) could put a stale output back.
                let mut kept = Vec::with_capacity(size);
                for ((q, out), followers) in batch.queries.iter().zip(outputs).zip(&followers) {
                    let timing = Timing::of(q, &batch, latency);
                    let mut answered = self.answer(q.id, Status::Ok, out.to_vec(), timing);
                    for f in followers {
                        let timing = Timing::of(f, &batch, latency);
                        if self.answer(f.id, Status::Ok, out.to_vec(), timing) {
                            self.counters.queries_coalesced += 1;
                            answered = true;
                        }
                    }
                    if answered {
                        kept.push((q.input.as_ref(), out));
                    }
                }
                // One short hold: submitters skip the cache rather than wait while it is held.
                let mut cache = lock(&self.cache);
                for (input, out) in kept {
                    cache.insert(batch.model, input, out);
                }
                None
            }
            BatchResult::Outputs(outputs) => Some(format!(
                "Model container answered {} outputs for a batch of {size}",
                outputs.len()
            )),
            BatchResult::Failed(why) => Some(why),
        };
        if let Some(why) = failure {
            for q in batch.queries.iter().chain(followers.iter().flatten()) {
                let timing = Timing::of(q, &batch, latency);
                self.answer(q.id, Status::ModelError, why.clone().into_bytes(), timing);
            }
        }
        self.dispatch(batch.model, now);
    }

    /// Sends a batch to every idle replica of `model_id` while live queries wait.
    fn dispatch(&mut self, model_id: u32, now: Instant) {
        let Some(model) = self.models.get_mut(&model_id).filter(|m| m.configured) else {
            return;
        };
        // A hold is decided afresh each time: a stale wake-up would spin the engine.
        model.release_at = None;
        if model.queue.is_empty() {
            return;
        }
        'replicas: for identity in self.registry.idle_for(model_id) {
            let queries = loop {
                let max = model.max_batch(now);
                if model.hold(max, now) {
                    break 'replicas;
                }
                let pending = &self.pending;
                // Queries due before a round trip could answer them are left to their deadline's default.
                let popped = model
                    .queue
                    .pop_batch(max, now, model.round_trip, |id| pending.contains_key(&id));
                if popped.is_empty() {
                    break 'replicas;
                }
                // A query whose input is being computed follows that computation instead of being sent.
                let send = model.coalescer.split(popped);
                if !send.is_empty() {
                    break send;
                }
            };
            let msg_id = self.next_msg_id;
            self.next_msg_id = self.next_msg_id.wrapping_add(1);
            let inputs = queries.iter().map(|q| q.input.clone()).collect();
            self.outbox.push((
                identity.clone(),
                encode_prediction_request(msg_id, model.input_type, inputs),
            ));
            if let Some(replica) = self.registry.get_mut(&identity) {
                replica.busy_with = Some(msg_id);
            }
            self.counters.batches_sent += 1;
            self.inflight.insert(
                msg_id,
                Inflight {
                    identity,
                    model: model_id,
                    queries,
                    sent_at: now,
                },
            );
        }
    }

    /// Answers queries whose deadline passed, sends the batches held for more queries whose wait is over,
    /// and drops replicas that went silent.
    pub fn on_tick(&mut self, now: Instant) {
        for id in self.timers.pop_due(now) {
            self.answer(id, Status::DeadlineMissed, Vec::new(), Timing::default());
        }
        let released: Vec<u32> = self
            .models
            .iter()
            .filter(|(_, m)| m.release_at.is_some_and(|at| at <= now))
            .map(|(id, _)| *id)
            .collect();
        for model in released {
            self.dispatch(model, now);
        }
        if now < self.next_liveness_check {
            return;
        }
        self.next_liveness_check = now + LIVENESS_CHECK_EVERY;
        for identity in self.registry.dead(
            now,
            self.config.replica_timeout,
            self.config.busy_replica_timeout,
        ) {
            self.drop_replica(&identity, now);
        }
        let pending = &self.pending;
        for model in self.models.values_mut() {
            model.queue.retain(|id| pending.contains_key(&id));
        }
    }

    /// A message to `identity` could not be delivered: its connection is gone (the process exited), so the
    /// replica is dropped now rather than after its silence timeout, and its batch goes to another replica.
    pub fn on_unreachable(&mut self, identity: &[u8], now: Instant) {
        self.drop_replica(identity, now);
    }

    fn drop_replica(&mut self, identity: &[u8], now: Instant) {
        let Some(replica) = self.registry.remove(identity) else {
            return;
        };
        self.counters.replicas_lost += 1;
        self.membership_changed = true;
        let model_id = replica.model;
        let label = self
            .models
            .get(&model_id)
            .map(Model::label)
            .unwrap_or_default();
        eprintln!(
            "clipper core: lost contact with container for model \"{label}\" (replica {})",
            replica.replica_id
        );
        // Its unfinished batch goes back to the front of the queue for another replica (its deadlines are
        // the earliest there), but a query that a round trip can no longer answer in time gets its default
        // now rather than at its deadline: waiting could not change its answer.
        let requeue = replica
            .busy_with
            .and_then(|msg_id| self.inflight.remove(&msg_id));
        let alive = self.registry.has_replica_for(model_id);
        if let (Some(batch), Some(model)) = (requeue, self.models.get_mut(&model_id)) {
            let pending = &self.pending;
            // Followers go back with the query they followed: the queue coalesces them again.
            let mut lost = Vec::with_capacity(batch.queries.len());
            for q in batch.queries {
                lost.extend(model.coalescer.finish(&q));
                lost.push(q);
            }
            let (live, too_late): (Vec<Query>, Vec<Query>) = lost
                .into_iter()
                .filter(|q| pending.contains_key(&q.id))
                .partition(|q| !alive || q.deadline > now + model.round_trip);
            self.counters.queries_requeued += live.len() as u64;
            for q in live {
                model.queue.push(q);
            }
            self.counters.queries_defaulted_on_replica_loss += too_late.len() as u64;
            for q in too_late {
                self.answer(q.id, Status::DeadlineMissed, Vec::new(), Timing::default());
            }
        }
        if alive {
            self.dispatch(model_id, now);
        } else if let Some(model) = self.models.get_mut(&model_id) {
            for q in model.queue.drain() {
                self.answer(
                    q.id,
                    Status::NoConnectedModel,
                    Vec::new(),
                    Timing::default(),
                );
            }
        }
    }

    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let wall_now = unix_millis(SystemTime::now());
        let replicas = self
            .registry
            .iter()
            .map(|(_, r)| {
                let (name, version) = self
                    .models
                    .get(&r.model)
                    .map(|m| (m.name.clone(), m.version.clone()))
                    .unwrap_or_default();
                ReplicaSnapshot {
                    model_name: name,
                    model_version: version,
                    model_replica_id: r.replica_id,
                    zmq_connection_id: r.connection_id,
                    input_type: r.input_type.name(),
                    connected_at_ms: r.connected_at_ms,
                    last_seen_ms: wall_now.saturating_sub(
                        now.saturating_duration_since(r.last_seen).as_millis() as u64,
                    ),
                    busy: r.busy_with.is_some(),
                    batches_completed: r.batches_completed,
                }
            })
            .collect();
        Snapshot {
            replicas,
            counters: self.counters,
            queued_queries: self.models.values().map(|m| m.queue.len()).sum(),
            inflight_batches: self.inflight.len(),
            cache: lock(&self.cache).stats(),
        }
    }
}

/// Locks the cache; a panic elsewhere while it was held leaves it usable (every operation keeps its
/// invariants before it can panic).
pub fn lock(cache: &Mutex<PredictionCache>) -> std::sync::MutexGuard<'_, PredictionCache> {
    cache.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
