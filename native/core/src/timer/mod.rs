//! SLO deadlines: which queries are due for their default output, and when the engine must next wake.
//!
//! Owns only the ordering of deadlines; it holds no query state, so answered queries are skipped lazily by
//! the caller. Time is passed in, never read, so tests advance a fake clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Default)]
pub struct DeadlineHeap {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl DeadlineHeap {
    pub fn push(&mut self, deadline: Instant, id: u64) {
        self.heap.push(Reverse((deadline, id)));
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns the ids whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Vec<u64> {
        let mut due = Vec::new();
        while let Some(Reverse((at, id))) = self.heap.peek() {
            if *at > now {
                break;
            }
            due.push(*id);
            self.heap.pop();
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_deadlines_at_or_before_now_are_due() {
        let t0 = Instant::now();
        let mut h = DeadlineHeap::default();
        h.push(t0 + Duration::from_millis(20), 2);
        h.push(t0 + Duration::from_millis(10), 1);
        h.push(t0 + Duration::from_millis(30), 3);
        assert_eq!(h.pop_due(t0 + Duration::from_millis(20)), vec![1, 2]);
        assert_eq!(h.next_deadline(), Some(t0 + Duration::from_millis(30)));
        assert!(h.pop_due(t0 + Duration::from_millis(29)).is_empty());
    }
}
