//! Submission: the one way queries enter the core, shared by the C ABI (`clipper_submit`) and the native
//! HTTP front (`http`). Answers prediction-cache hits on the caller's thread, applies admission control,
//! and queues the misses for the engine. Decides where each miss's answer goes (`Reply`), before the
//! engine can answer it.

use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::Shared;
use crate::completion::Completion;
use crate::engine::Command;
use crate::queue::Query;
use crate::rpc::Frame;

/// Why a submission was refused; nothing was queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    UnknownModel(u32),
    Overloaded(usize),
    Closed,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::UnknownModel(id) => write!(f, "Unknown model id {id}"),
            Refused::Overloaded(limit) => {
                write!(f, "Serving core is at its limit of {limit} queries")
            }
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
        let before = self.outstanding.fetch_add(queued, Ordering::AcqRel);
        if before + queued > self.max_outstanding {
            self.outstanding.fetch_sub(queued, Ordering::AcqRel);
            return Err(Refused::Overloaded(self.max_outstanding));
        }
        let deadline = Instant::now() + Duration::from_micros(latency_slo_micros);
        let data: Arc<[u8]> = Arc::from(inputs.data);
        let queries: Vec<Query> = misses
            .iter()
            .map(|&i| Query {
                id: first_id + i as u64,
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
            self.outstanding.fetch_sub(queued, Ordering::AcqRel);
            if let Some((receivers, ours)) = channels {
                let mut waiters = self.lock_waiters();
                for (i, _) in receivers.drain(ours..) {
                    waiters.remove(&(first_id + i as u64));
                }
            }
            Refused::Closed
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::Status;
    use crate::engine::EngineConfig;
    use crate::runtime::testing::configure;
    use crate::runtime::Runtime;

    fn runtime(endpoint: &str, max_outstanding: usize) -> (Runtime, u32) {
        let runtime = Runtime::start(
            endpoint,
            EngineConfig::default(),
            0,
            max_outstanding,
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
        assert_eq!(refused, Err(Refused::Overloaded(1)));
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
    fn query_ids_are_never_handed_out_twice() {
        let (runtime, _) = runtime("tcp://127.0.0.1:0", 1);
        let a = runtime.shared.allocate_query_ids(3);
        let b = runtime.shared.allocate_query_ids(1);
        assert_eq!(b, a + 3);
    }
}
