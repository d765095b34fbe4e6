//! The prediction cache: recent model outputs keyed by model version and wire-encoded input, so a repeated
//! query is answered inside `clipper_submit`, without a trip to a container or through the completion
//! queue.
//!
//! Owns memory accounting and eviction. Eviction is CLOCK (second chance), which approximates LRU while a
//! hit costs one flag write instead of a list splice. Must not decide what is worth caching: the engine
//! inserts only outputs a model returned, and drops a model's entries when the model is removed.

use std::collections::HashMap;

use serde::Serialize;

/// Bookkeeping charged per entry on top of its key and output, so a flood of tiny entries cannot
/// overshoot the budget by much.
const ENTRY_OVERHEAD_BYTES: usize = 64;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    pub entries: usize,
    pub bytes: usize,
    pub capacity_bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

struct Slot {
    key: Box<[u8]>,
    output: Box<[u8]>,
    referenced: bool,
}

impl Slot {
    fn bytes(&self) -> usize {
        entry_bytes(self.key.len(), self.output.len())
    }
}

/// The key is held twice (in the index and in its slot, which eviction needs), so it is charged twice.
fn entry_bytes(key_len: usize, output_len: usize) -> usize {
    2 * key_len + output_len + ENTRY_OVERHEAD_BYTES
}

pub struct PredictionCache {
    index: HashMap<Box<[u8]>, usize>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    hand: usize,
    /// Reused to build lookup keys without allocating.
    scratch: Vec<u8>,
    stats: CacheStats,
}

impl PredictionCache {
    /// A cache holding at most `capacity_bytes`; zero turns it off (every lookup misses, nothing is kept).
    pub fn new(capacity_bytes: usize) -> PredictionCache {
        PredictionCache {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            hand: 0,
            scratch: Vec::new(),
            stats: CacheStats {
                capacity_bytes,
                ..CacheStats::default()
            },
        }
    }

    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    fn key(&mut self, model: u32, input: &[u8]) -> &[u8] {
        self.scratch.clear();
        self.scratch.extend_from_slice(&model.to_le_bytes());
        self.scratch.extend_from_slice(input);
        &self.scratch
    }

    /// The cached output of `model` for `input`, marking it recently used.
    pub fn get(&mut self, model: u32, input: &[u8]) -> Option<&[u8]> {
        if self.stats.capacity_bytes == 0 {
            return None;
        }
        self.key(model, input);
        let Some(&at) = self.index.get(self.scratch.as_slice()) else {
            self.stats.misses += 1;
            return None;
        };
        self.stats.hits += 1;
        let slot = self.slots[at].as_mut()?;
        slot.referenced = true;
        Some(&slot.output)
    }

    /// Keeps `output` as the answer of `model` for `input`, evicting older entries to stay in budget. An
    /// entry larger than the whole budget is not kept.
    pub fn insert(&mut self, model: u32, input: &[u8], output: &[u8]) {
        let bytes = entry_bytes(4 + input.len(), output.len());
        if bytes > self.stats.capacity_bytes {
            return;
        }
        self.key(model, input);
        if let Some(&at) = self.index.get(self.scratch.as_slice()) {
            self.remove_slot(at);
        }
        while self.stats.bytes + bytes > self.stats.capacity_bytes {
            self.evict_one();
        }
        let key: Box<[u8]> = self.scratch.as_slice().into();
        let slot = Slot {
            key: key.clone(),
            output: output.into(),
            referenced: false,
        };
        let at = match self.free.pop() {
            Some(at) => {
                self.slots[at] = Some(slot);
                at
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.index.insert(key, at);
        self.stats.bytes += bytes;
        self.stats.entries += 1;
    }

    /// Forgets every output of `model` (its version was removed: a new one under the same name and
    /// version may answer differently).
    pub fn remove_model(&mut self, model: u32) {
        let prefix = model.to_le_bytes();
        let doomed: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.as_ref().is_some_and(|s| s.key.starts_with(&prefix)))
            .map(|(at, _)| at)
            .collect();
        for at in doomed {
            self.remove_slot(at);
        }
    }

    fn remove_slot(&mut self, at: usize) {
        if let Some(slot) = self.slots[at].take() {
            self.index.remove(&slot.key);
            self.stats.bytes -= slot.bytes();
            self.stats.entries -= 1;
            self.free.push(at);
        }
    }

    /// Advances the clock hand to the first entry not used since the hand last passed it, and drops it.
    /// Ends within two sweeps: the first clears every reference flag it passes.
    fn evict_one(&mut self) {
        if self.stats.entries == 0 {
            return;
        }
        loop {
            self.hand = (self.hand + 1) % self.slots.len();
            match self.slots[self.hand].as_mut() {
                Some(slot) if slot.referenced => slot.referenced = false,
                Some(_) => {
                    self.remove_slot(self.hand);
                    self.stats.evictions += 1;
                    return;
                }
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_output_is_found_for_the_same_model_and_input_only() {
        let mut cache = PredictionCache::new(1 << 20);
        cache.insert(1, b"in", b"out");
        assert_eq!(cache.get(1, b"in"), Some(&b"out"[..]));
        assert_eq!(cache.get(2, b"in"), None);
        assert_eq!(cache.get(1, b"other"), None);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 2, 1));
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let mut cache = PredictionCache::new(0);
        cache.insert(1, b"in", b"out");
        assert_eq!(cache.get(1, b"in"), None);
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn inserting_again_replaces_the_output_without_growing() {
        let mut cache = PredictionCache::new(1 << 20);
        cache.insert(1, b"in", b"old");
        let bytes = cache.stats().bytes;
        cache.insert(1, b"in", b"new");
        assert_eq!(cache.get(1, b"in"), Some(&b"new"[..]));
        assert_eq!(cache.stats().bytes, bytes);
        assert_eq!(cache.stats().entries, 1);
    }

    #[test]
    fn the_budget_holds_and_recently_used_entries_survive_eviction() {
        let one = entry_bytes(4 + 1, 1);
        let mut cache = PredictionCache::new(3 * one);
        cache.insert(0, b"a", b"1");
        cache.insert(0, b"b", b"2");
        cache.insert(0, b"c", b"3");
        assert!(cache.get(0, b"a").is_some());
        cache.insert(0, b"d", b"4");
        let stats = cache.stats();
        assert!(stats.bytes <= stats.capacity_bytes);
        assert_eq!((stats.entries, stats.evictions), (3, 1));
        assert!(
            cache.get(0, b"a").is_some(),
            "a was used, so it had a second chance"
        );
        assert!(cache.get(0, b"d").is_some(), "the newest entry is kept");
        assert_eq!(
            [b"b", b"c"]
                .iter()
                .filter(|k| cache.get(0, &k[..]).is_some())
                .count(),
            1,
            "exactly one of the unused entries was evicted"
        );
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept() {
        let mut cache = PredictionCache::new(100);
        cache.insert(0, &[0; 200], b"x");
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn removing_a_model_forgets_its_outputs_and_only_them() {
        let mut cache = PredictionCache::new(1 << 20);
        cache.insert(1, b"in", b"one");
        cache.insert(2, b"in", b"two");
        cache.remove_model(1);
        assert_eq!(cache.get(1, b"in"), None);
        assert_eq!(cache.get(2, b"in"), Some(&b"two"[..]));
        assert_eq!(cache.stats().entries, 1);
        cache.insert(1, b"in", b"again");
        assert_eq!(cache.get(1, b"in"), Some(&b"again"[..]));
    }

    #[test]
    fn many_inserts_through_a_small_budget_never_exceed_it() {
        let mut cache = PredictionCache::new(10 * entry_bytes(12, 8));
        for i in 0u64..1000 {
            cache.insert(7, &i.to_le_bytes(), &i.to_le_bytes());
            if i % 3 == 0 {
                cache.get(7, &i.to_le_bytes());
            }
            assert!(cache.stats().bytes <= cache.stats().capacity_bytes);
        }
        assert_eq!(cache.stats().entries, 10);
        assert_eq!(
            cache.get(7, &999u64.to_le_bytes()),
            Some(&999u64.to_le_bytes()[..])
        );
    }
}
