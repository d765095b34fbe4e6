//! Per-model earliest-deadline-first queue of queries waiting for a replica.
//!
//! Owns ordering and expiry on the way out: a query whose deadline has passed is never put in a batch (the
//! timer answers it with the default output). Must not decide batch sizes (`batching`) or answer queries.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::rpc::Frame;

/// One query waiting for, or travelling to, a model replica.
#[derive(Clone, Debug)]
pub struct Query {
    pub id: u64,
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

    /// Takes up to `max` live queries, earliest deadline first. Queries already expired at `now`, or no
    /// longer `live` (answered elsewhere), are discarded on the way.
    pub fn pop_batch(
        &mut self,
        max: usize,
        now: Instant,
        live: impl Fn(u64) -> bool,
    ) -> Vec<Query> {
        let mut batch = Vec::with_capacity(max.min(self.heap.len()));
        while batch.len() < max {
            let Some(Entry { query, .. }) = self.heap.pop() else {
                break;
            };
            if query.deadline > now && live(query.id) {
                batch.push(query);
            }
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
    use std::time::Duration;

    fn query(id: u64, deadline: Instant) -> Query {
        Query {
            id,
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
        let ids: Vec<u64> = q.pop_batch(3, t0, |_| true).iter().map(|q| q.id).collect();
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
        let ids: Vec<u64> = q
            .pop_batch(10, now, |id| id != 3)
            .iter()
            .map(|q| q.id)
            .collect();
        assert_eq!(ids, vec![2]);
        assert!(q.is_empty());
    }
}
