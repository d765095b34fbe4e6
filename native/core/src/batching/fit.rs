//! The p99 of a model's batch latency as a line in the batch size, fitted to its recent batches by
//! quantile regression.
//!
//! Owns the window of recent (size, latency) samples and the fitted line; must not decide sizes. The fit
//! minimises the pinball loss at the 0.99 quantile, so about 1 % of recent batches lie above the line.
//! For a fixed slope the best intercept is the 0.99 quantile of the residuals, and the loss left is convex
//! in the slope, so a golden-section search over the slope finds the fit exactly without a solver
//! (two parameters; no crate we found does small online quantile regression). The slope is kept ≥ 0: a
//! bigger batch is never faster, and a negative slope would invite batches of any size.

use std::collections::VecDeque;
use std::time::Duration;

const QUANTILE: f64 = 0.99;
/// Recent enough to follow a model whose speed changes, long enough that 1 % of it is a few batches.
const WINDOW: usize = 256;
/// Too few batches say nothing about a tail.
const MIN_SAMPLES: usize = 16;
/// Refitting costs a few tens of microseconds; batches come much more often than the curve moves.
const REFIT_EVERY: usize = 8;
const SEARCH_STEPS: usize = 60;

/// Batch latency in microseconds: `intercept + slope × size`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub intercept_micros: f64,
    pub slope_micros: f64,
}

impl Line {
    /// The estimated p99 latency of a batch of `size`.
    pub fn p99(&self, size: usize) -> Duration {
        let micros = self.intercept_micros + self.slope_micros * size as f64;
        Duration::from_secs_f64(micros.max(0.0) / 1e6)
    }

    /// The largest batch whose estimated p99 latency is within `slack`; 0 when none is.
    pub fn largest_within(&self, slack: Duration) -> usize {
        let room = slack.as_secs_f64() * 1e6 - self.intercept_micros;
        if room < 0.0 {
            0
        } else if self.slope_micros <= 0.0 {
            usize::MAX
        } else {
            (room / self.slope_micros).floor().min(usize::MAX as f64) as usize
        }
    }
}

#[derive(Default)]
pub struct LatencyFit {
    samples: VecDeque<(f64, f64)>,
    since_fit: usize,
    line: Option<Line>,
    largest_size: usize,
}

impl LatencyFit {
    /// A batch of `size` queries took `latency` at the replica.
    pub fn observe(&mut self, size: usize, latency: Duration) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples
            .push_back((size as f64, latency.as_secs_f64() * 1e6));
        self.since_fit += 1;
        if self.samples.len() >= MIN_SAMPLES
            && (self.line.is_none() || self.since_fit >= REFIT_EVERY)
        {
            self.refit();
        }
    }

    /// The fitted line, once enough batches were seen.
    pub fn line(&self) -> Option<Line> {
        self.line
    }

    /// The largest batch in the window (as of the last fit).
    pub fn largest_size(&self) -> usize {
        self.largest_size
    }

    fn refit(&mut self) {
        self.since_fit = 0;
        let (xs, ys): (Vec<f64>, Vec<f64>) = self.samples.iter().copied().unzip();
        self.largest_size = xs.iter().fold(0.0f64, |a, &b| a.max(b)) as usize;
        let one_size = xs.iter().all(|&x| x == xs[0]);
        // With one size in the window the slope is unknown; 0 lets the sizer explore larger batches.
        let slope = if one_size {
            0.0
        } else {
            let highest = ys.iter().fold(0.0f64, |a, &b| a.max(b));
            golden_minimum(0.0, highest, |slope| best_for_slope(&xs, &ys, slope).1)
        };
        let (intercept, _) = best_for_slope(&xs, &ys, slope);
        self.line = Some(Line {
            intercept_micros: intercept,
            slope_micros: slope,
        });
    }
}

/// For a fixed slope: the intercept minimising the pinball loss (the residuals' quantile), and that loss.
fn best_for_slope(xs: &[f64], ys: &[f64], slope: f64) -> (f64, f64) {
    let mut residuals: Vec<f64> = xs.iter().zip(ys).map(|(x, y)| y - slope * x).collect();
    let k = ((QUANTILE * residuals.len() as f64).ceil() as usize).clamp(1, residuals.len()) - 1;
    let (_, &mut intercept, _) = residuals.select_nth_unstable_by(k, f64::total_cmp);
    let loss = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| {
            let r = y - intercept - slope * x;
            if r >= 0.0 {
                QUANTILE * r
            } else {
                (QUANTILE - 1.0) * r
            }
        })
        .sum();
    (intercept, loss)
}

/// The minimum of a convex `f` on `[lo, hi]`, by golden-section search.
fn golden_minimum(mut lo: f64, mut hi: f64, f: impl Fn(f64) -> f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let mut a = hi - ratio * (hi - lo);
    let mut b = lo + ratio * (hi - lo);
    let (mut fa, mut fb) = (f(a), f(b));
    for _ in 0..SEARCH_STEPS {
        if fa <= fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - ratio * (hi - lo);
            fa = f(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + ratio * (hi - lo);
            fb = f(b);
        }
    }
    (lo + hi) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(m: f64) -> Duration {
        Duration::from_secs_f64(m / 1000.0)
    }

    #[test]
    fn no_line_is_fitted_before_enough_batches() {
        let mut fit = LatencyFit::default();
        for size in 1..MIN_SAMPLES {
            fit.observe(size, millis(1.0));
        }
        assert_eq!(fit.line(), None);
        fit.observe(MIN_SAMPLES, millis(1.0));
        assert!(fit.line().is_some());
    }

    #[test]
    fn an_exact_line_is_recovered() {
        let mut fit = LatencyFit::default();
        for i in 0..64 {
            let size = 1 + (i * 7) % 50;
            fit.observe(size, millis(2.0 + 0.1 * size as f64));
        }
        let line = fit.line().unwrap();
        assert!((line.intercept_micros - 2000.0).abs() < 5.0, "{line:?}");
        assert!((line.slope_micros - 100.0).abs() < 0.5, "{line:?}");
        assert_eq!(line.largest_within(millis(12.0)), 100);
        assert_eq!(line.largest_within(millis(1.0)), 0);
    }

    #[test]
    fn the_line_lies_above_all_but_about_one_percent_of_the_batches() {
        let mut fit = LatencyFit::default();
        let mut samples = Vec::new();
        for i in 0..WINDOW {
            let size = 1 + (i * 13) % 64;
            // Spread up to 1 ms above the curve.
            let jitter = ((i * 7919) % 1000) as f64 / 1000.0;
            let latency = millis(1.0 + 0.05 * size as f64 + jitter);
            samples.push((size, latency));
            fit.observe(size, latency);
        }
        fit.refit();
        let line = fit.line().unwrap();
        let above = samples.iter().filter(|(s, l)| *l > line.p99(*s)).count();
        assert!(above <= 4, "{above} of {WINDOW} above {line:?}");
    }

    #[test]
    fn one_batch_size_gives_a_flat_line_at_its_tail() {
        let mut fit = LatencyFit::default();
        for i in 0..100 {
            fit.observe(4, millis(if i % 50 == 0 { 9.0 } else { 3.0 }));
        }
        let line = fit.line().unwrap();
        assert_eq!(line.slope_micros, 0.0);
        assert!(line.intercept_micros >= 3000.0, "{line:?}");
        assert_eq!(line.largest_within(millis(10.0)), usize::MAX);
    }
}
