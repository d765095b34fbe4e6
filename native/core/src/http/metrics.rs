//! Counters and histograms of the requests the native front answers, in the layout of src/metrics
//! (same names, same log-linear buckets) so the frontend merges them into its one `/metrics` report.
//! `take` hands over what accumulated since the last take. Must not time anything: callers pass values.

use std::collections::HashMap;

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

const SUB_BUCKETS: usize = 8;
const BUCKETS: usize = 64 * SUB_BUCKETS;

/// The bucket src/metrics/histogram.ts puts `value` in: buckets hold (lower, upper], so a value on an edge
/// counts below it, as Prometheus's `le` bounds read.
fn bucket_of(value: f64) -> usize {
    if value <= 1.0 {
        return 0;
    }
    let exponent = value.log2().floor();
    let fraction = value / exponent.exp2() - 1.0;
    let bucket = exponent as usize * SUB_BUCKETS + (fraction * SUB_BUCKETS as f64).ceil() as usize;
    bucket.min(BUCKETS - 1)
}

/// Serialized as `{buckets: [[bucket, count], ...], count, sum, max}`, empty buckets left out.
pub struct Histogram {
    counts: Vec<u64>,
    count: u64,
    sum: f64,
    max: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            count: 0,
            sum: 0.0,
            max: 0.0,
        }
    }
}

impl Histogram {
    pub fn record(&mut self, value: f64) {
        self.counts[bucket_of(value)] += 1;
        self.count += 1;
        self.sum += value;
        self.max = self.max.max(value);
    }
}

impl Serialize for Histogram {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let buckets: Vec<(usize, u64)> = self
            .counts
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(b, &n)| (b, n))
            .collect();
        let mut out = s.serialize_struct("Histogram", 4)?;
        out.serialize_field("buckets", &buckets)?;
        out.serialize_field("count", &self.count)?;
        out.serialize_field("sum", &self.sum)?;
        out.serialize_field("max", &self.max)?;
        out.end()
    }
}

#[derive(Default, Serialize)]
pub struct AppCounters {
    pub requests: u64,
    pub predictions: u64,
    pub default_outputs: u64,
    pub latency_micros: Histogram,
}

#[derive(Default, Serialize)]
pub struct ModelCounters {
    pub predictions: u64,
    pub cache_hits: u64,
    pub errors: u64,
    pub latency_micros: Histogram,
    pub batch_size: Histogram,
    pub queue_micros: Histogram,
}

/// The entry for `key`, made on first use; looked up by `&str` so a request allocates no key.
fn counters<'a, T: Default>(map: &'a mut HashMap<String, T>, key: &str) -> &'a mut T {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), T::default());
    }
    map.get_mut(key).expect("inserted above")
}

#[derive(Default, Serialize)]
pub struct FrontMetrics {
    apps: HashMap<String, AppCounters>,
    models: HashMap<String, ModelCounters>,
}

impl FrontMetrics {
    pub fn app(&mut self, name: &str) -> &mut AppCounters {
        counters(&mut self.apps, name)
    }

    /// The counters of model version `label` (`name:version`).
    pub fn model(&mut self, label: &str) -> &mut ModelCounters {
        counters(&mut self.models, label)
    }

    /// The JSON of everything since the last take, then empties itself; `Err(needed)` when that JSON is
    /// over `max_len` bytes, taking nothing.
    pub fn take_json(&mut self, max_len: usize) -> Result<Vec<u8>, usize> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        if json.len() > max_len {
            return Err(json.len());
        }
        *self = FrontMetrics::default();
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_the_frontend_histogram() {
        // Values and buckets from src/metrics/histogram.ts's bucketOf.
        for (value, bucket) in [
            (0.5, 0),
            (1.0, 0),
            (1.1, 1),
            (1.5, 4),
            (2.0, 8),
            (3.0, 12),
            (1000.0, 80),
            (1e300, 511),
        ] {
            assert_eq!(bucket_of(value), bucket, "value {value}");
        }
    }

    #[test]
    fn a_take_hands_over_the_counts_once() {
        let mut m = FrontMetrics::default();
        m.app("shop").requests += 1;
        m.model("m:1").latency_micros.record(3.0);
        let json: serde_json::Value = serde_json::from_slice(&m.take_json(4096).unwrap()).unwrap();
        assert_eq!(json["apps"]["shop"]["requests"], 1);
        assert_eq!(
            json["models"]["m:1"]["latency_micros"]["buckets"],
            serde_json::json!([[12, 1]])
        );
        assert_eq!(json["models"]["m:1"]["latency_micros"]["max"], 3.0);
        let again: serde_json::Value = serde_json::from_slice(&m.take_json(4096).unwrap()).unwrap();
        assert_eq!(again["apps"], serde_json::json!({}));
    }

    #[test]
    fn a_take_that_does_not_fit_keeps_the_counts() {
        let mut m = FrontMetrics::default();
        m.app("shop").requests += 1;
        let needed = m.take_json(4).unwrap_err();
        assert!(needed > 4);
        assert_eq!(m.take_json(needed).unwrap().len(), needed);
    }
}
