//! Batch sizing: how many queued queries one replica is sent at once.
//!
//! Owns the size decision and its feedback loop; must not touch queues or sockets. `Fixed` honours a
//! model's configured `batch_size`; `Aimd` (batch_size −1) grows the batch additively while batches finish
//! within the latency objective and backs off multiplicatively when one does not, as the Clipper paper
//! describes. Quantile-regression sizing and batch delay plug in behind the same trait.

use std::time::Duration;

pub trait BatchSizer: Send {
    /// The most queries the next batch may hold.
    fn max_batch(&self) -> usize;
    /// Feedback: a batch of `size` queries took `latency` at the replica.
    fn observe(&mut self, size: usize, latency: Duration);
}

/// Builds the sizer for a model's configured `batch_size` (−1 = adaptive).
pub fn sizer_for(batch_size: i32, latency_objective: Duration) -> Box<dyn BatchSizer> {
    if batch_size >= 1 {
        Box::new(Fixed(batch_size as usize))
    } else {
        Box::new(Aimd::new(latency_objective))
    }
}

pub struct Fixed(pub usize);

impl BatchSizer for Fixed {
    fn max_batch(&self) -> usize {
        self.0
    }
    fn observe(&mut self, _size: usize, _latency: Duration) {}
}

/// Additive-increase, multiplicative-decrease batch sizing against a latency objective.
pub struct Aimd {
    current: f64,
    objective: Duration,
}

impl Aimd {
    const START: f64 = 8.0;
    const STEP: f64 = 4.0;
    const BACKOFF: f64 = 0.9;
    const MAX: f64 = 4096.0;

    pub fn new(objective: Duration) -> Aimd {
        Aimd {
            current: Self::START,
            objective,
        }
    }
}

impl BatchSizer for Aimd {
    fn max_batch(&self) -> usize {
        self.current as usize
    }

    fn observe(&mut self, size: usize, latency: Duration) {
        if latency > self.objective {
            self.current = (self.current * Self::BACKOFF).max(1.0);
        } else if size as f64 >= self.current.floor() {
            // Grow only when the batch was full: an idle model tells us nothing about its limit.
            self.current = (self.current + Self::STEP).min(Self::MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_size_is_honoured_whatever_the_latency() {
        let mut s = sizer_for(5, Duration::from_millis(10));
        s.observe(5, Duration::from_secs(1));
        assert_eq!(s.max_batch(), 5);
    }

    #[test]
    fn adaptive_sizing_grows_on_full_fast_batches_and_backs_off_on_slow_ones() {
        let mut s = sizer_for(-1, Duration::from_millis(10));
        let start = s.max_batch();
        s.observe(start, Duration::from_millis(1));
        let grown = s.max_batch();
        assert!(grown > start);
        s.observe(1, Duration::from_millis(1));
        assert_eq!(
            s.max_batch(),
            grown,
            "a partial batch must not grow the size"
        );
        s.observe(grown, Duration::from_millis(50));
        assert!(s.max_batch() < grown);
    }

    #[test]
    fn adaptive_sizing_never_drops_below_one() {
        let mut s = sizer_for(-1, Duration::from_millis(10));
        for _ in 0..200 {
            s.observe(1, Duration::from_secs(1));
        }
        assert_eq!(s.max_batch(), 1);
    }
}
