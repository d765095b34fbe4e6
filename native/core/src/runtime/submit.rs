//! Submission: the one way queries enter the core, shared by the C ABI (`clipper_submit`) and the native
//! HTTP front (`http`). Answers prediction-cache hits on the caller's thread, applies admission control,
//! and queues the misses for the engine. Decides where each miss's answer goes (`Reply`), before the
//! engine can answer it.
//!
//! Admission bounds the queries submitted and not yet answered, in all and per model version
//! (`Admission`): over a bound a submission is refused at once rather than queued to miss its deadline,
//! and a request larger than a bound, which could never be taken, is refused as too large.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Shared;
use crate::completion::Completion;
use crate::engine::Command;
use crate::queue::Query;
use crate::rpc::Frame;

/// The bounds on queries submitted and not yet answered.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
    /// In all (`--max-outstanding-queries`).
    pub max_outstanding: usize,
    /// For any one model version (`--max-outstanding-per-model`), so that one slow model cannot take the
    /// room every other model needs.
    pub max_per_model: usize,
}

impl Admission {
    /// The same bound in all and per model.
    pub fn total(max_outstanding: usize) -> Admission {
        Admission {
            max_outstanding,
            max_per_model: max_outstanding,
        }
    }

    /// The bound that `count` queries of one request are over, if any: they can never be taken.
    fn too_large(&self, count: usize) -> Option<Bound> {
        let (limit, bound) = if self.max_per_model < self.max_outstanding {
            (self.max_per_model, Bound::PerModel)
        } else {
            (self.max_outstanding, Bound::Total)
        };
        (count > limit).then_some(bound)
    }

    fn limit(&self, bound: Bound) -> usize {
        match bound {
            Bound::Total => self.max_outstanding,
            Bound::PerModel => self.max_per_model,
        }
    }
}

/// Which admission bound a refusal is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Total,
    PerModel,
}

impl Bound {
    fn flag(self) -> &'static str {
        match self {
            Bound::Total => "--max-outstanding-queries",
            Bound::PerModel => "--max-outstanding-per-model",
        }
    }
}

/// Why a submission was refused; nothing was queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    UnknownModel(u32),
    /// Over a bound now (`limit` queries outstanding): a client may retry later.
    Overloaded {
        bound: Bound,
        limit: usize,
    },
    /// More queries in one request than the bound: no retry can help.
    TooLarge {
        bound: Bound,
        limit: usize,
        count: usize,
    },
    Closed,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::UnknownModel(id) => write!(f, "Unknown model id {id}"),
            Refused::Overloaded { bound, limit } => {
                let whose = match bound {
                    Bound::Total => "the serving core",
                    Bound::PerModel => "the model",
                };
                write!(
                    f,
                    "Cannot queue the query: {whose} is at its limit of {limit} outstanding queries ({}); retry later",
                    bound.flag()
                )
            }
            Refused::TooLarge {
                bound,
                limit,
                count,
            } => write!(
                f,
                "Cannot queue {count} queries of one request: no more than {limit} can be outstanding ({})",
                bound.flag()
            ),
            Refused::Closed => write!(f, "The serving core is closed"),
        }
    }
}

/// One request's inputs in wire encoding: input i is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub offsets: &'a [u32],
    pub data: &'a [u8],
}

impl Inputs<'_> {
    pub fn count(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Offsets start at 0, never decrease and end at the data's length.
    pub fn well_formed(&self) -> bool {
        self.offsets.first() == Some(&0)
            && self.offsets.last().map(|&end| end as usize) == Some(self.data.len())
            && self.offsets.windows(2).all(|w| w[0] <= w[1])
    }

    fn get(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The offsets and data of the inputs `which`, in that order, as a batch of their own.
    pub fn gather(&self, which: &[usize]) -> (Vec<u32>, Vec<u8>) {
        let mut offsets = Vec::with_capacity(which.len() + 1);
        offsets.push(0);
        let mut data = Vec::new();
        for &i in which {
            data.extend_from_slice(self.get(i));
            offsets.push(data.len() as u32);
        }
        (offsets, data)
    }
}

/// Where the answers of queued queries go.
pub enum Reply<'a> {
    /// The completion queue, read by `clipper_poll_completions`.
    Poll,
    /// One channel per queued query, pushed as (input index, receiver) after those already there (a
    /// fan-out's earlier submissions), which a refusal leaves as they are.
    Channels(&'a mut Vec<(usize, oneshot::Receiver<Completion>)>),
}

impl Shared {
    /// Reserves `count` consecutive query ids, also for queries answered without reaching the engine.
    pub fn allocate_query_ids(&self, count: u64) -> u64 {
        self.next_query_id.fetch_add(count, Ordering::Relaxed)
    }

    /// Submits each input as query `first_id + i` for `model`, due within `latency_slo_micros`.
    ///
    /// Cached outputs are offered to `hit(i, output)`, which returns false when it cannot take one (the
    /// query is then queued like a miss). The cache is skipped when the engine holds it: the caller's thread
    /// serves HTTP and must not block. On refusal nothing is queued and the offered hits mean nothing.
    pub fn submit(
        &self,
        model: u32,
        latency_slo_micros: u64,
        first_id: u64,
        inputs: Inputs<'_>,
        mut hit: impl FnMut(usize, &[u8]) -> bool,
        reply: Reply<'_>,
    ) -> Result<(), Refused> {
        if !self.table.contains(model) {
            return Err(Refused::UnknownModel(model));
        }
        let count = inputs.count();
        let mut misses: Vec<usize> = Vec::with_capacity(count);
        let cache = match self.cache.try_lock() {
            Ok(cache) => Some(cache),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        match cache {
            Some(mut cache) => {
                for i in 0..count {
                    match cache.get(model, inputs.get(i)) {
                        Some(output) if hit(i, output) => {}
                        _ => misses.push(i),
                    }
                }
            }
            None => misses.extend(0..count),
        }
        if misses.is_empty() {
            return Ok(());
        }
        let queued = misses.len();
        if let Some(bound) = self.admission.too_large(queued) {
            self.load
                .submissions_too_large
                .fetch_add(1, Ordering::Relaxed);
            let limit = self.admission.limit(bound);
            let count = queued;
            return Err(Refused::TooLarge {
                bound,
                limit,
                count,
            });
        }
        self.admit(model, queued).inspect_err(|_| {
            self.load
                .submissions_overloaded
                .fetch_add(1, Ordering::Relaxed);
        })?;
        let submitted = Instant::now();
        let deadline = submitted + Duration::from_micros(latency_slo_micros);
        let data: Arc<[u8]> = Arc::from(inputs.data);
        let queries: Vec<Query> = misses
            .iter()
            .map(|&i| Query {
                id: first_id + i as u64,
                submitted,
                deadline,
                input: Frame::Shared(
                    data.clone(),
                    inputs.offsets[i] as usize,
                    inputs.offsets[i + 1] as usize,
                ),
            })
            .collect();
        let channels = match reply {
            Reply::Poll => None,
            Reply::Channels(receivers) => {
                let ours = receivers.len();
                let mut waiters = self.lock_waiters();
                for &i in &misses {
                    let (sender, receiver) = oneshot::channel();
                    waiters.insert(first_id + i as u64, sender);
                    receivers.push((i, receiver));
                }
                Some((receivers, ours))
            }
        };
        self.send(Command::Submit { model, queries }).map_err(|_| {
            self.release(model, queued);
            if let Some((receivers, ours)) = channels {
                let mut waiters = self.lock_waiters();
                for (i, _) in receivers.drain(ours..) {
                    waiters.remove(&(first_id + i as u64));
                }
            }
            Refused::Closed
        })
    }

    /// Counts `queued` more queries outstanding for `model`, or refuses them all when that would pass a
    /// bound.
    fn admit(&self, model: u32, queued: usize) -> Result<(), Refused> {
        let Admission {
            max_outstanding,
            max_per_model,
        } = self.admission;
        let before = self.outstanding.fetch_add(queued, Ordering::AcqRel);
        if before + queued > max_outstanding {
            self.outstanding.fetch_sub(queued, Ordering::AcqRel);
            let (bound, limit) = (Bound::Total, max_outstanding);
            return Err(Refused::Overloaded { bound, limit });
        }
        let mut per_model = lock_counts(&self.outstanding_per_model);
        let of_model = per_model.entry(model).or_default();
        if *of_model + queued > max_per_model {
            drop(per_model);
            self.outstanding.fetch_sub(queued, Ordering::AcqRel);
            let (bound, limit) = (Bound::PerModel, max_per_model);
            return Err(Refused::Overloaded { bound, limit });
        }
        *of_model += queued;
        Ok(())
    }

    /// Counts `answered` queries of `model` as no longer outstanding.
    pub(super) fn release(&self, model: u32, answered: usize) {
        let mut per_model = lock_counts(&self.outstanding_per_model);
        if let Some(of_model) = per_model.get_mut(&model) {
            *of_model = of_model.saturating_sub(answered);
            if *of_model == 0 {
                per_model.remove(&model);
            }
        }
        drop(per_model);
        self.outstanding.fetch_sub(answered, Ordering::AcqRel);
    }

    /// Hands answered queries to their channels, and the rest to the completion queue.
    pub(super) fn deliver(&self, done: &mut Vec<Completion>) {
        {
            let mut waiters = self.lock_waiters();
            if !waiters.is_empty() {
                let mut rest = Vec::with_capacity(done.len());
                for completion in done.drain(..) {
                    match waiters.remove(&completion.id) {
                        // A receiver gone (its client hung up) leaves nothing to do.
                        Some(sender) => drop(sender.send(completion)),
                        None => rest.push(completion),
                    }
                }
                *done = rest;
            }
        }
        self.completions.push_all(done);
    }
}

fn lock_counts(
    counts: &Mutex<HashMap<u32, usize>>,
) -> std::sync::MutexGuard<'_, HashMap<u32, usize>> {
    counts.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::Status;
    use crate::engine::EngineConfig;
    use crate::runtime::testing::{await_replicas, configure, Dealer};
    use crate::runtime::Runtime;

    fn runtime(endpoint: &str, max_outstanding: usize) -> (Runtime, u32) {
        let runtime = Runtime::start(
            endpoint,
            EngineConfig::default(),
            0,
            Admission::total(max_outstanding),
            crate::rpc::zmtp::MAX_MESSAGE_BYTES,
        )
        .unwrap();
        let model = configure(&runtime, "m");
        (runtime, model)
    }

    #[test]
    fn answers_of_channel_submissions_go_to_their_channels_not_the_poll() {
        let (runtime, model) = runtime("tcp://127.0.0.1:0", 10);
        let shared = &runtime.shared;
        let first = shared.allocate_query_ids(2);
        let inputs = Inputs {
            offsets: &[0, 8, 16],
            data: &[0; 16],
        };
        let mut receivers = Vec::new();
        let reply = Reply::Channels(&mut receivers);
        shared
            .submit(model, 1_000_000, first, inputs, |_, _| false, reply)
            .unwrap();
        let answered: Vec<(usize, u64, Status)> = receivers
            .into_iter()
            .map(|(i, r)| {
                let c = r.blocking_recv().unwrap();
                (i, c.id, c.status)
            })
            .collect();
        // No replica is connected, so the engine answers at once.
        let expected = [
            (0, first, Status::NoConnectedModel),
            (1, first + 1, Status::NoConnectedModel),
        ];
        assert_eq!(answered, expected);
        let mut buf = [0u8; 256];
        let polled = shared
            .completions
            .poll_into(&mut buf, Duration::from_millis(50));
        assert_eq!(polled, Err(crate::completion::PollError::TimedOut));
    }

    #[test]
    fn a_refused_submission_queues_nothing_and_leaves_no_channel() {
        let (runtime, model) = runtime("tcp://127.0.0.1:0", 1);
        let shared = &runtime.shared;
        let inputs = Inputs {
            offsets: &[0, 8, 16],
            data: &[0; 16],
        };
        let mut receivers = Vec::new();
        let reply = Reply::Channels(&mut receivers);
        let refused = shared.submit(model, 1_000_000, 1, inputs, |_, _| false, reply);
        let too_large = Refused::TooLarge {
            bound: Bound::Total,
            limit: 1,
            count: 2,
        };
        assert_eq!(refused, Err(too_large));
        assert!(receivers.is_empty());
        assert!(shared.lock_waiters().is_empty());
        assert_eq!(shared.outstanding.load(Ordering::Acquire), 0);
        let unknown = shared.submit(99, 1, 1, inputs, |_, _| false, Reply::Poll);
        assert_eq!(unknown, Err(Refused::UnknownModel(99)));
    }

    #[test]
    fn a_submission_refused_by_a_closed_core_takes_back_only_its_own_channels() {
        let (runtime, model) = runtime("tcp://127.0.0.1:0", 10);
        let shared = &runtime.shared;
        let inputs = Inputs {
            offsets: &[0, 8],
            data: &[0; 8],
        };
        let mut receivers = Vec::new();
        let (_, earlier) = oneshot::channel();
        receivers.push((0, earlier));
        runtime.stop();
        let reply = Reply::Channels(&mut receivers);
        let refused = shared.submit(model, 1_000_000, 1, inputs, |_, _| false, reply);
        assert_eq!(refused, Err(Refused::Closed));
        assert_eq!(receivers.len(), 1);
        assert!(shared.lock_waiters().is_empty());
    }

    #[test]
    fn one_model_cannot_take_more_than_its_bound_and_leaves_room_for_the_others() {
        let admission = Admission {
            max_outstanding: 5,
            max_per_model: 3,
        };
        let runtime = Runtime::start(
            "tcp://127.0.0.1:0",
            EngineConfig::default(),
            0,
            admission,
            crate::rpc::zmtp::MAX_MESSAGE_BYTES,
        )
        .unwrap();
        let (m, n) = (configure(&runtime, "m"), configure(&runtime, "n"));
        // Replicas that never answer hold every query outstanding.
        let mut silent: Vec<Dealer> = ["m", "n"]
            .iter()
            .map(|name| {
                let mut dealer = Dealer::connect(&runtime, None);
                dealer.introduce(name).unwrap();
                dealer
            })
            .collect();
        await_replicas(&runtime, &["m", "n"]);
        let shared = &runtime.shared;
        let submit = |model: u32, count: usize| {
            let offsets: Vec<u32> = (0..=count as u32).map(|i| i * 8).collect();
            let data = vec![0u8; count * 8];
            let inputs = Inputs {
                offsets: &offsets,
                data: &data,
            };
            let first = shared.allocate_query_ids(count as u64);
            shared.submit(model, 10_000_000, first, inputs, |_, _| false, Reply::Poll)
        };
        assert_eq!(submit(m, 2), Ok(()));
        let per_model = Refused::Overloaded {
            bound: Bound::PerModel,
            limit: 3,
        };
        let words = "Cannot queue the query: the model is at its limit of 3 outstanding queries (--max-outstanding-per-model); retry later";
        assert_eq!(per_model.to_string(), words);
        assert_eq!(submit(m, 2), Err(per_model));
        assert_eq!(submit(n, 2), Ok(()));
        let total = Refused::Overloaded {
            bound: Bound::Total,
            limit: 5,
        };
        assert_eq!(submit(n, 2), Err(total));
        let too_large = Refused::TooLarge {
            bound: Bound::PerModel,
            limit: 3,
            count: 4,
        };
        let words = "Cannot queue 4 queries of one request: no more than 3 can be outstanding (--max-outstanding-per-model)";
        assert_eq!(too_large.to_string(), words);
        assert_eq!(submit(n, 4), Err(too_large));
        assert_eq!(shared.outstanding.load(Ordering::Acquire), 4);
        let load = &shared.load;
        assert_eq!(load.submissions_overloaded.load(Ordering::Relaxed), 2);
        assert_eq!(load.submissions_too_large.load(Ordering::Relaxed), 1);
        silent.clear();
    }

    #[test]
    fn answered_queries_make_room_again() {
        let (runtime, model) = runtime("tcp://127.0.0.1:0", 2);
        let shared = &runtime.shared;
        let inputs = Inputs {
            offsets: &[0, 8, 16],
            data: &[0; 16],
        };
        // No replica: the engine answers at once, and the room comes back with the answers.
        for round in 0..50 {
            let first = shared.allocate_query_ids(2);
            let until = Instant::now() + Duration::from_secs(5);
            loop {
                match shared.submit(model, 1_000_000, first, inputs, |_, _| false, Reply::Poll) {
                    Ok(()) => break,
                    Err(Refused::Overloaded { .. }) if Instant::now() < until => {
                        std::thread::yield_now()
                    }
                    Err(refused) => panic!("round {round}: {refused}"),
                }
            }
        }
    }

    #[test]
    fn query_ids_are_never_handed_out_twice() {
        let (runtime, _) = runtime("tcp://127.0.0.1:0", 1);
        let a = runtime.shared.allocate_query_ids(3);
        let b = runtime.shared.allocate_query_ids(1);
        assert_eq!(b, a + 3);
    }
}
