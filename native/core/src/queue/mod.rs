//! Per-model earliest-deadline-first queue of queries waiting for a replica.
//!
//! Owns ordering and expiry on the way out: a query whose deadline has passed is never put in a batch, nor
//! one with less than a round trip left while others can still make theirs (the timer answers them with
//! the default output). Must not decide batch sizes (`batching`) or answer queries.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use crate::rpc::Frame;

/// One query waiting for, or travelling to, a model replica.
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u64,
    /// When it was submitted: its time in the queue is counted from here.
    pub submitted: Instant,
    pub deadline: Instant,
    pub input: Frame,
}

struct Entry {
    seq: u64,
    query: Query,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    // BinaryHeap is a max-heap: the earliest deadline (then the oldest arrival) must compare greatest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .query
            .deadline
            .cmp(&self.query.deadline)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

#[derive(Default)]
pub struct DeadlineQueue {
    heap: BinaryHeap<Entry>,
    seq: u64,
}

impl DeadlineQueue {
    pub fn push(&mut self, query: Query) {
        self.seq += 1;
        self.heap.push(Entry {
            seq: self.seq,
            query,
        });
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The query first in line: the earliest deadline (perhaps of a query already answered, which only
    /// errs early).
    pub fn first(&self) -> Option<&Query> {
        self.heap.peek().map(|e| &e.query)
    }

    /// Takes up to `max` live queries, earliest deadline first, skipping those with less than `round_trip`
    /// left: answering them late would take the replica from queries that can still make their deadline
    /// (their deadline's timer answers them). Queries already expired at `now`, or no longer `live`
    /// (answered elsewhere), are discarded on the way. When every live query is too close to its
    /// deadline, the batch is the latest-due of them: a model slower than its objective still gets work,
    /// and its next round trip can correct an estimate that a slow first batch inflated.
    pub fn pop_batch(
        &mut self,
        max: usize,
        now: Instant,
        round_trip: Duration,
        live: impl Fn(u64) -> bool,
    ) -> Vec<Query> {
        let cutoff = now + round_trip;
        let mut batch = Vec::with_capacity(max.min(self.heap.len()));
        let mut too_late = VecDeque::new();
        while batch.len() < max {
            let Some(Entry { query, .. }) = self.heap.pop() else {
                break;
            };
            if query.deadline <= now || !live(query.id) {
                continue;
            }
            if query.deadline > cutoff {
                batch.push(query);
            } else {
                if too_late.len() == max {
                    too_late.pop_front();
                }
                too_late.push_back(query);
            }
        }
        if batch.is_empty() {
            batch.extend(too_late);
        }
        batch
    }

    /// Keeps only the queries for which `keep` holds (sheds answered ones while no replica is free).
    pub fn retain(&mut self, keep: impl Fn(u64) -> bool) {
        self.heap.retain(|e| keep(e.query.id));
    }

    /// Empties the queue, returning every query still in it.
    pub fn drain(&mut self) -> Vec<Query> {
        self.heap.drain().map(|e| e.query).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids_of(batch: Vec<Query>) -> Vec<u64> {
        batch.iter().map(|q| q.id).collect()
    }

    fn query(id: u64, deadline: Instant) -> Query {
        Query {
            id,
            submitted: deadline,
            deadline,
            input: Frame::Owned(vec![]),
        }
    }

    #[test]
    fn batches_come_out_earliest_deadline_first_then_in_arrival_order() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        q.push(query(1, t0 + Duration::from_millis(30)));
        q.push(query(2, t0 + Duration::from_millis(10)));
        q.push(query(3, t0 + Duration::from_millis(30)));
        q.push(query(4, t0 + Duration::from_millis(20)));
        let ids = ids_of(q.pop_batch(3, t0, Duration::ZERO, |_| true));
        assert_eq!(ids, vec![2, 4, 1]);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn expired_and_answered_queries_never_enter_a_batch() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        q.push(query(1, t0 + Duration::from_millis(5)));
        q.push(query(2, t0 + Duration::from_millis(50)));
        q.push(query(3, t0 + Duration::from_millis(60)));
        let now = t0 + Duration::from_millis(10);
        let ids = ids_of(q.pop_batch(10, now, Duration::ZERO, |id| id != 3));
        assert_eq!(ids, vec![2]);
        assert!(q.is_empty());
    }

    #[test]
    fn queries_with_less_than_a_round_trip_left_are_skipped_for_those_that_can_make_it() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        for (id, due) in [(1, 5), (2, 8), (3, 30), (4, 40)] {
            q.push(query(id, t0 + Duration::from_millis(due)));
        }
        let ids = ids_of(q.pop_batch(1, t0, Duration::from_millis(10), |_| true));
        assert_eq!(ids, vec![3]);
        assert_eq!(
            q.len(),
            1,
            "query 4 waits; queries 1 and 2 are left to their timers"
        );
    }

    #[test]
    fn when_every_query_is_too_close_to_its_deadline_the_latest_due_are_sent() {
        let t0 = Instant::now();
        let mut q = DeadlineQueue::default();
        for (id, due) in [(1, 5), (2, 8), (3, 9)] {
            q.push(query(id, t0 + Duration::from_millis(due)));
        }
        let ids = ids_of(q.pop_batch(2, t0, Duration::from_millis(50), |_| true));
        assert_eq!(ids, vec![2, 3]);
        assert!(q.is_empty());
    }
}
