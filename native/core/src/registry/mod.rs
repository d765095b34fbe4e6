//! Connected model replicas: who is connected, for which model, whether busy, and whether still alive.
//!
//! Owns replica identities and liveness bookkeeping. Must not hold queries (the engine tracks in-flight
//! batches) nor touch the socket.

use std::collections::{HashMap, HashSet};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::rpc::InputType;

pub type Identity = Vec<u8>;

pub struct Replica {
    pub model: u32,
    pub replica_id: u32,
    pub connection_id: u32,
    pub input_type: InputType,
    pub connected_at_ms: u64,
    pub last_seen: Instant,
    /// Message id of the batch this replica is working on, if any.
    pub busy_with: Option<u32>,
    pub batches_completed: u64,
}

/// What the management API shows of a replica.
#[derive(Clone, Debug, Serialize)]
pub struct ReplicaSnapshot {
    pub model_name: String,
    pub model_version: String,
    pub model_replica_id: u32,
    pub zmq_connection_id: u32,
    pub input_type: &'static str,
    pub connected_at_ms: u64,
    pub last_seen_ms: u64,
    pub busy: bool,
    pub batches_completed: u64,
}

#[derive(Default)]
pub struct Registry {
    replicas: HashMap<Identity, Replica>,
    next_connection_id: u32,
}

pub fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Registry {
    pub fn get(&self, identity: &[u8]) -> Option<&Replica> {
        self.replicas.get(identity)
    }

    pub fn get_mut(&mut self, identity: &[u8]) -> Option<&mut Replica> {
        self.replicas.get_mut(identity)
    }

    /// Registers a replica under the number it claims (the one its process manager gave it), or else the
    /// lowest number no connected replica of its model holds, so numbers stay small across restarts.
    pub fn add(
        &mut self,
        identity: Identity,
        model: u32,
        claimed: Option<u32>,
        input_type: InputType,
        now: Instant,
    ) -> &Replica {
        let replica_id = claimed.unwrap_or_else(|| {
            let taken: HashSet<u32> = self
                .replicas
                .values()
                .filter(|r| r.model == model)
                .map(|r| r.replica_id)
                .collect();
            (0..).find(|id| !taken.contains(id)).unwrap_or(0)
        });
        let replica = Replica {
            model,
            replica_id,
            connection_id: self.next_connection_id,
            input_type,
            connected_at_ms: unix_millis(SystemTime::now()),
            last_seen: now,
            busy_with: None,
            batches_completed: 0,
        };
        self.next_connection_id += 1;
        self.replicas.entry(identity).or_insert(replica)
    }

    pub fn remove(&mut self, identity: &[u8]) -> Option<Replica> {
        self.replicas.remove(identity)
    }

    pub fn has_replica_for(&self, model: u32) -> bool {
        self.replicas.values().any(|r| r.model == model)
    }

    /// Identities of replicas of `model` with no batch in flight.
    pub fn idle_for(&self, model: u32) -> Vec<Identity> {
        self.replicas
            .iter()
            .filter(|(_, r)| r.model == model && r.busy_with.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Identities of replicas judged dead at `now`: silent past `timeout`, or, while working on a batch
    /// (a single-threaded container cannot heartbeat then), silent past `busy_timeout`.
    pub fn dead(
        &self,
        now: Instant,
        timeout: std::time::Duration,
        busy_timeout: std::time::Duration,
    ) -> Vec<Identity> {
        self.replicas
            .iter()
            .filter(|(_, r)| {
                let silent = now.saturating_duration_since(r.last_seen);
                silent
                    > if r.busy_with.is_some() {
                        busy_timeout
                    } else {
                        timeout
                    }
            })
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Identity, &Replica)> {
        self.replicas.iter()
    }

    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn replicas_are_numbered_per_model_from_the_lowest_free_number_and_connections_globally() {
        let now = Instant::now();
        let mut r = Registry::default();
        let a = r
            .add(b"a".to_vec(), 1, None, InputType::Doubles, now)
            .replica_id;
        let b = r
            .add(b"b".to_vec(), 1, None, InputType::Doubles, now)
            .replica_id;
        let c = r.add(b"c".to_vec(), 2, None, InputType::Ints, now);
        assert_eq!((a, b, c.replica_id, c.connection_id), (0, 1, 0, 2));
        assert!(r.has_replica_for(1) && !r.has_replica_for(3));
        // A restarted replica takes the number its predecessor left, not a new one.
        r.remove(b"a");
        assert_eq!(
            r.add(b"d".to_vec(), 1, None, InputType::Doubles, now)
                .replica_id,
            0
        );
    }

    #[test]
    fn a_replica_keeps_the_number_its_process_manager_gave_it() {
        let now = Instant::now();
        let mut r = Registry::default();
        assert_eq!(
            r.add(b"a".to_vec(), 1, Some(2), InputType::Doubles, now)
                .replica_id,
            2
        );
        assert_eq!(
            r.add(b"b".to_vec(), 1, None, InputType::Doubles, now)
                .replica_id,
            0
        );
    }

    #[test]
    fn a_busy_replica_gets_the_longer_timeout_before_it_is_declared_dead() {
        let t0 = Instant::now();
        let mut r = Registry::default();
        r.add(b"idle".to_vec(), 1, None, InputType::Doubles, t0);
        r.add(b"busy".to_vec(), 1, None, InputType::Doubles, t0);
        r.get_mut(b"busy").unwrap().busy_with = Some(7);
        let later = t0 + Duration::from_secs(31);
        let dead = r.dead(later, Duration::from_secs(30), Duration::from_secs(300));
        assert_eq!(dead, vec![b"idle".to_vec()]);
        assert_eq!(r.idle_for(1), vec![b"idle".to_vec()]);
    }
}
