//! Batch sizing: how many queued queries one replica is sent at once, and how long a partial batch may be
//! held for more.
//!
//! Owns the size decision, its feedback loop and the batch-latency estimate both rely on (`fit`); must not
//! touch queues or sockets. `Fixed` honours a model's configured `batch_size`; `Aimd` (batch_size −1, the
//! default) grows the batch additively while batches finish within the latency objective and backs off
//! multiplicatively when one does not, as the Clipper paper describes; `Quantile` (batch_size −1 with
//! batching "quantile") sends the largest batch whose estimated p99 latency fits the time left to the
//! earliest deadline in the queue. `Batching` carries a model's choice and its batch delay.

mod fit;

use std::time::Duration;

pub use fit::LatencyFit;

/// How a model's adaptive batches are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sizing {
    Aimd,
    Quantile,
}

impl Sizing {
    /// The C ABI's ids: 0 AIMD, 1 quantile.
    pub fn from_id(id: u32) -> Option<Sizing> {
        match id {
            0 => Some(Sizing::Aimd),
            1 => Some(Sizing::Quantile),
            _ => None,
        }
    }
}

/// A model's batching configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// ≥ 1: a fixed maximum; −1: adaptive, sized by `sizing`.
    pub batch_size: i32,
    pub sizing: Sizing,
    /// How long a replica with room in its batch may wait for more queries (zero: never), bounded by the
    /// earliest deadline in the queue (`engine`).
    pub delay: Duration,
}

impl Batching {
    /// `batch_size` (−1: adaptive, by AIMD), no delay.
    pub fn sized(batch_size: i32) -> Batching {
        Batching {
            batch_size,
            sizing: Sizing::Aimd,
            delay: Duration::ZERO,
        }
    }
}

pub trait BatchSizer: Send {
    /// The most queries the next batch may hold, when the earliest deadline in the queue is `slack` away
    /// and `fit` estimates the model's batch latency.
    fn max_batch(&self, slack: Duration, fit: &LatencyFit) -> usize;
    /// Feedback: a batch of `size` queries took `latency` at the replica.
    fn observe(&mut self, size: usize, latency: Duration);
}

/// Builds the sizer for a model's configuration, against its latency objective.
pub fn sizer_for(batching: Batching, latency_objective: Duration) -> Box<dyn BatchSizer> {
    match batching {
        Batching { batch_size, .. } if batch_size >= 1 => Box::new(Fixed(batch_size as usize)),
        Batching {
            sizing: Sizing::Quantile,
            ..
        } => Box::new(Quantile),
        _ => Box::new(Aimd::new(latency_objective)),
    }
}

/// The most queries any adaptive batch holds.
const MAX_BATCH: usize = 4096;

pub struct Fixed(pub usize);

impl BatchSizer for Fixed {
    fn max_batch(&self, _slack: Duration, _fit: &LatencyFit) -> usize {
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

    pub fn new(objective: Duration) -> Aimd {
        Aimd {
            current: Self::START,
            objective,
        }
    }
}

impl BatchSizer for Aimd {
    fn max_batch(&self, _slack: Duration, _fit: &LatencyFit) -> usize {
        self.current as usize
    }

    fn observe(&mut self, size: usize, latency: Duration) {
        if latency > self.objective {
            self.current = (self.current * Self::BACKOFF).max(1.0);
        } else if size as f64 >= self.current.floor() {
            // Grow only when the batch was full: an idle model tells us nothing about its limit.
            self.current = (self.current + Self::STEP).min(MAX_BATCH as f64);
        }
    }
}

/// The largest batch whose estimated p99 latency fits the slack. Until the fit has seen enough batches it
/// sends AIMD's first size; beyond the largest batch it has seen it grows by at most doubling, since a
/// line fitted to small batches says little about much larger ones.
pub struct Quantile;

impl Quantile {
    const WARM_UP: usize = 8;
}

impl BatchSizer for Quantile {
    fn max_batch(&self, slack: Duration, fit: &LatencyFit) -> usize {
        let Some(line) = fit.line() else {
            return Self::WARM_UP;
        };
        let explore = (2 * fit.largest_size()).clamp(Self::WARM_UP, MAX_BATCH);
        line.largest_within(slack).clamp(1, explore)
    }

    // The fit is the model's (`engine::Model`), fed there for every sizer.
    fn observe(&mut self, _size: usize, _latency: Duration) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Duration = Duration::MAX;

    fn adaptive(sizing: Sizing) -> Batching {
        Batching {
            batch_size: -1,
            sizing,
            delay: Duration::ZERO,
        }
    }

    #[test]
    fn a_fixed_size_is_honoured_whatever_the_latency() {
        let mut s = sizer_for(Batching::sized(5), Duration::from_millis(10));
        s.observe(5, Duration::from_secs(1));
        assert_eq!(s.max_batch(NONE, &LatencyFit::default()), 5);
    }

    #[test]
    fn adaptive_sizing_grows_on_full_fast_batches_and_backs_off_on_slow_ones() {
        let fit = LatencyFit::default();
        let mut s = sizer_for(adaptive(Sizing::Aimd), Duration::from_millis(10));
        let start = s.max_batch(NONE, &fit);
        s.observe(start, Duration::from_millis(1));
        let grown = s.max_batch(NONE, &fit);
        assert!(grown > start);
        s.observe(1, Duration::from_millis(1));
        assert_eq!(
            s.max_batch(NONE, &fit),
            grown,
            "a partial batch must not grow the size"
        );
        s.observe(grown, Duration::from_millis(50));
        assert!(s.max_batch(NONE, &fit) < grown);
    }

    #[test]
    fn adaptive_sizing_never_drops_below_one() {
        let mut s = sizer_for(adaptive(Sizing::Aimd), Duration::from_millis(10));
        for _ in 0..200 {
            s.observe(1, Duration::from_secs(1));
        }
        assert_eq!(s.max_batch(NONE, &LatencyFit::default()), 1);
    }

    /// A deterministic stand-in for measurement noise: up to `spread` of extra latency.
    fn noise(i: usize, spread: f64) -> f64 {
        let x = (i as u64).wrapping_mul(6364136223846793005).rotate_left(17) % 1000;
        spread * x as f64 / 1000.0
    }

    /// Feeds `fit` the batches a quantile-sized model sends against `slack` when a batch of n takes
    /// `base + per_query × n` milliseconds plus noise; returns the size it settles on.
    fn settle(fit: &mut LatencyFit, slack: Duration, base: f64, per_query: f64) -> usize {
        let sizer = Quantile;
        let mut size = 0;
        for i in 0..400 {
            size = sizer.max_batch(slack, fit);
            let millis = base + per_query * size as f64 + noise(i, 0.5);
            fit.observe(size, Duration::from_secs_f64(millis / 1000.0));
        }
        size
    }

    #[test]
    fn quantile_sizing_tracks_a_latency_curve_and_backs_off_when_it_shifts() {
        let slack = Duration::from_millis(20);
        let mut fit = LatencyFit::default();
        // 2 ms + 0.1 ms per query, up to 0.5 ms of noise: the p99 fits 20 ms up to about 175 queries.
        let settled = settle(&mut fit, slack, 2.0, 0.1);
        assert!((160..=180).contains(&settled), "settled on {settled}");
        // The model gets twice as slow per query: about 80 now fit.
        let shifted = settle(&mut fit, slack, 3.0, 0.2);
        assert!((70..=85).contains(&shifted), "settled on {shifted}");
    }

    #[test]
    fn quantile_sizing_sends_one_query_when_even_one_would_be_late() {
        let mut fit = LatencyFit::default();
        for i in 0..64 {
            fit.observe(1 + i % 8, Duration::from_millis(30));
        }
        assert_eq!(Quantile.max_batch(Duration::from_millis(5), &fit), 1);
    }
}
