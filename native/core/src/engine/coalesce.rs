//! Coalescing: queries of one model version with the same input bytes share one model call. A query whose
//! input is already being computed (in a batch in flight, or earlier in the batch being formed) is not
//! sent; it follows that computation and gets its output, or its failure, when it ends.
//!
//! Owns which query computes each input and who follows it; must not answer queries (the engine does, once
//! each) nor decide deadlines: a follower keeps its own deadline timer, so one whose deadline passes first
//! gets its default as any query would, and a computation whose own query was already answered at its
//! deadline still answers its followers. One per model version, since a version is what an output belongs
//! to.

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::queue::Query;
use crate::rpc::Frame;

/// An input compared and hashed by its bytes, so that a map of them is searched by `&[u8]` (no copy).
struct InputKey(Frame);

impl Borrow<[u8]> for InputKey {
    fn borrow(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl PartialEq for InputKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_ref() == other.0.as_ref()
    }
}
impl Eq for InputKey {}
impl Hash for InputKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.as_ref().hash(state);
    }
}

#[derive(Default)]
pub struct Coalescer {
    /// The query computing each input now.
    computing: HashMap<InputKey, u64>,
    /// Each computing query's followers.
    followers: HashMap<u64, Vec<Query>>,
}

impl Coalescer {
    /// Of a batch about to be sent, the queries that need a model call: each of the others follows the
    /// query computing its input.
    pub fn split(&mut self, batch: Vec<Query>) -> Vec<Query> {
        let mut send = Vec::with_capacity(batch.len());
        for q in batch {
            match self.computing.entry(InputKey(q.input.clone())) {
                Entry::Occupied(leader) => self.followers.entry(*leader.get()).or_default().push(q),
                Entry::Vacant(slot) => {
                    slot.insert(q.id);
                    send.push(q);
                }
            }
        }
        send
    }

    /// `q` itself when its input is not being computed; else `q` follows that computation.
    pub fn follow(&mut self, q: Query) -> Option<Query> {
        if self.computing.is_empty() {
            return Some(q);
        }
        match self.computing.get(q.input.as_ref()) {
            Some(leader) => {
                self.followers.entry(*leader).or_default().push(q);
                None
            }
            None => Some(q),
        }
    }

    /// `q`'s computation ended (answered, failed, or lost with its replica): its followers, to be answered
    /// alike or put back in the queue.
    pub fn finish(&mut self, q: &Query) -> Vec<Query> {
        let key: &[u8] = q.input.as_ref();
        if self.computing.get(key) == Some(&q.id) {
            self.computing.remove(key);
        }
        self.followers.remove(&q.id).unwrap_or_default()
    }

    /// Forgets every computation (the model was removed; its queries are answered by the engine).
    pub fn clear(&mut self) -> Vec<Query> {
        self.computing.clear();
        self.followers.drain().flat_map(|(_, f)| f).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn query(id: u64, input: &[u8]) -> Query {
        Query {
            id,
            submitted: Instant::now(),
            deadline: Instant::now(),
            input: Frame::Owned(input.to_vec()),
        }
    }

    fn ids(queries: &[Query]) -> Vec<u64> {
        queries.iter().map(|q| q.id).collect()
    }

    #[test]
    fn identical_inputs_in_one_batch_make_one_call_and_follow_the_first() {
        let mut c = Coalescer::default();
        let send = c.split(vec![query(1, b"a"), query(2, b"b"), query(3, b"a")]);
        assert_eq!(ids(&send), vec![1, 2]);
        assert_eq!(ids(&c.finish(&send[0])), vec![3]);
        assert!(c.finish(&send[1]).is_empty());
    }

    #[test]
    fn an_input_in_flight_is_followed_by_later_batches_until_its_computation_ends() {
        let mut c = Coalescer::default();
        let first = c.split(vec![query(1, b"a")]);
        assert!(c.split(vec![query(2, b"a"), query(3, b"a")]).is_empty());
        assert_eq!(ids(&c.finish(&first[0])), vec![2, 3]);
        let again = c.split(vec![query(4, b"a")]);
        assert_eq!(
            ids(&again),
            vec![4],
            "once answered, the input is computed afresh"
        );
    }

    #[test]
    fn a_query_submitted_while_its_input_is_computed_follows_at_once() {
        let mut c = Coalescer::default();
        assert!(c.follow(query(1, b"a")).is_some(), "nothing computed yet");
        let first = c.split(vec![query(1, b"a")]);
        assert!(c.follow(query(2, b"a")).is_none());
        assert_eq!(ids(&[c.follow(query(3, b"b")).unwrap()]), vec![3]);
        assert_eq!(ids(&c.finish(&first[0])), vec![2]);
    }

    #[test]
    fn clearing_hands_back_every_follower() {
        let mut c = Coalescer::default();
        c.split(vec![
            query(1, b"a"),
            query(2, b"a"),
            query(3, b"b"),
            query(4, b"b"),
        ]);
        let mut left = ids(&c.clear());
        left.sort();
        assert_eq!(left, vec![2, 4]);
        assert_eq!(ids(&c.split(vec![query(5, b"a")])), vec![5]);
    }
}
