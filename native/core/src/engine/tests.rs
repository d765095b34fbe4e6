//! Behaviour of the engine under a fake clock, with container messages built byte for byte.

use super::*;
use crate::runtime::testing::response;

const SLO: Duration = Duration::from_millis(100);

struct Harness {
    engine: Engine,
    t0: Instant,
    model: u32,
}

fn new_container(name: &str, version: &str, input_type: u32, rpc: u32) -> Vec<Vec<u8>> {
    vec![
        vec![],
        0u32.to_le_bytes().to_vec(),
        name.as_bytes().to_vec(),
        version.as_bytes().to_vec(),
        input_type.to_string().into_bytes(),
        rpc.to_le_bytes().to_vec(),
    ]
}

fn batch_error(msg_id: u32, message: &str) -> Vec<Vec<u8>> {
    vec![
        vec![],
        3u32.to_le_bytes().to_vec(),
        msg_id.to_le_bytes().to_vec(),
        message.as_bytes().to_vec(),
    ]
}

impl Harness {
    fn new(batch_size: i32) -> Harness {
        let t0 = Instant::now();
        let table = Arc::new(ModelTable::default());
        let model = table.id_for("sum", "1");
        let cache = Arc::new(Mutex::new(PredictionCache::new(1 << 20)));
        let mut engine = Engine::new(EngineConfig::default(), table, cache, t0);
        engine.apply(
            Command::Configure {
                model,
                input_type: InputType::Doubles,
                batching: Batching::sized(batch_size),
                latency_objective: SLO,
            },
            t0,
        );
        Harness { engine, t0, model }
    }

    /// Reconfigures the model's batching, as `set_model_batching` does.
    fn configure(&mut self, batching: Batching) {
        let now = self.t0;
        self.engine.apply(
            Command::Configure {
                model: self.model,
                input_type: InputType::Doubles,
                batching,
                latency_objective: SLO,
            },
            now,
        );
    }

    /// Answers every batch sent so far after `latency_millis`, from `millis`; returns when they were sent.
    fn answer_all(&mut self, millis: u64, latency_millis: u64) {
        for (identity, msg_id, size) in self.sent_batches() {
            let outputs = vec!["ok"; size];
            self.recv(
                &identity,
                response(msg_id, &outputs),
                millis + latency_millis,
            );
        }
    }

    fn at(&self, millis: u64) -> Instant {
        self.t0 + Duration::from_millis(millis)
    }

    fn recv(&mut self, identity: &[u8], frames: Vec<Vec<u8>>, millis: u64) {
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let now = self.at(millis);
        self.engine.on_message(identity, &refs, now);
    }

    fn connect(&mut self, identity: &[u8]) {
        self.recv(identity, new_container("sum", "1", 3, 3), 0);
    }

    fn submit(&mut self, ids: &[u64], millis: u64) {
        let now = self.at(millis);
        let queries = ids
            .iter()
            .map(|id| Query {
                id: *id,
                submitted: now,
                deadline: now + SLO,
                input: Frame::Owned((*id as f64).to_le_bytes().to_vec()),
            })
            .collect();
        self.engine.apply(
            Command::Submit {
                model: self.model,
                queries,
            },
            now,
        );
    }

    /// Takes the prediction requests sent so far: (identity, message id, number of inputs).
    fn sent_batches(&mut self) -> Vec<(Vec<u8>, u32, usize)> {
        self.engine
            .outbox
            .drain(..)
            .filter(|(_, frames)| frames.len() > 4)
            .map(|(id, frames)| {
                let msg_id = u32::from_le_bytes(frames[3].as_ref().try_into().unwrap());
                (id, msg_id, frames.len() - 7)
            })
            .collect()
    }

    /// How many prediction requests are waiting in the outbox.
    fn sent_batches_peek(&self) -> usize {
        self.engine
            .outbox
            .iter()
            .filter(|(_, frames)| frames.len() > 4)
            .count()
    }

    fn done(&mut self) -> Vec<(u64, Status, Vec<u8>)> {
        let mut done: Vec<_> = self
            .engine
            .done
            .drain(..)
            .map(|c| (c.id, c.status, c.payload))
            .collect();
        done.sort_by_key(|d| d.0);
        done
    }
}

#[test]
fn a_heartbeat_from_an_unknown_container_asks_for_its_metadata() {
    let mut h = Harness::new(4);
    h.recv(b"c1", vec![vec![], 2u32.to_le_bytes().to_vec()], 0);
    let (identity, frames) = h.engine.outbox.pop().unwrap();
    assert_eq!(identity, b"c1");
    assert_eq!(frames[3].as_ref(), &1u32.to_le_bytes());
    h.connect(b"c1");
    h.recv(b"c1", vec![vec![], 2u32.to_le_bytes().to_vec()], 1);
    let (_, frames) = h.engine.outbox.pop().unwrap();
    assert_eq!(
        frames[3].as_ref(),
        &0u32.to_le_bytes(),
        "a known container gets a keep-alive"
    );
}

#[test]
fn queries_without_a_connected_replica_are_answered_at_once() {
    let mut h = Harness::new(4);
    h.submit(&[1, 2], 0);
    assert_eq!(
        h.done(),
        vec![
            (1, Status::NoConnectedModel, vec![]),
            (2, Status::NoConnectedModel, vec![])
        ]
    );
}

#[test]
fn a_batch_round_trip_answers_each_query_with_its_output() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit(&[1, 2, 3], 0);
    let batches = h.sent_batches();
    assert_eq!(batches.len(), 1);
    let (_, msg_id, size) = batches[0].clone();
    assert_eq!(size, 3);
    h.recv(b"c1", response(msg_id, &["a", "b", "c"]), 5);
    assert_eq!(
        h.done(),
        vec![
            (1, Status::Ok, b"a".to_vec()),
            (2, Status::Ok, b"b".to_vec()),
            (3, Status::Ok, b"c".to_vec())
        ]
    );
}

#[test]
fn batches_respect_the_fixed_size_and_one_batch_per_replica_is_in_flight() {
    let mut h = Harness::new(2);
    h.connect(b"c1");
    h.submit(&[1, 2, 3, 4, 5], 0);
    let first = h.sent_batches();
    assert_eq!(first.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2]);
    h.recv(b"c1", response(first[0].1, &["x", "y"]), 1);
    let second = h.sent_batches();
    assert_eq!(second.iter().map(|b| b.2).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn a_missed_deadline_answers_the_default_once_and_the_late_output_is_dropped() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit(&[1], 0);
    let (_, msg_id, _) = h.sent_batches()[0].clone();
    assert!(h.engine.next_wakeup() <= h.at(100));
    h.engine.on_tick(h.at(99));
    assert!(h.done().is_empty());
    h.engine.on_tick(h.at(100));
    assert_eq!(h.done(), vec![(1, Status::DeadlineMissed, vec![])]);
    h.recv(b"c1", response(msg_id, &["late"]), 150);
    assert!(h.done().is_empty(), "a query is answered exactly once");
}

#[test]
fn queries_that_expired_while_queued_are_not_sent() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1], 0);
    h.submit(&[2], 10);
    let (_, first, _) = h.sent_batches()[0].clone();
    h.engine.on_tick(h.at(110));
    h.recv(b"c1", response(first, &["late"]), 120);
    assert!(h.sent_batches().is_empty(), "query 2 expired in the queue");
    assert_eq!(
        h.done(),
        vec![
            (1, Status::DeadlineMissed, vec![]),
            (2, Status::DeadlineMissed, vec![])
        ]
    );
}

#[test]
fn a_query_with_less_time_left_than_a_round_trip_is_left_to_its_default_and_the_next_one_is_sent() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1], 0);
    h.submit(&[2], 5);
    h.submit(&[3], 30);
    let (_, first, _) = h.sent_batches()[0].clone();
    // A 60 ms round trip: when the replica frees up, query 2 has 45 ms left and query 3 has 70.
    h.recv(b"c1", response(first, &["a"]), 60);
    let sent = h.sent_batches();
    assert_eq!(sent.len(), 1);
    h.recv(b"c1", response(sent[0].1, &["c"]), 70);
    h.engine.on_tick(h.at(105));
    assert_eq!(
        h.done(),
        vec![
            (1, Status::Ok, b"a".to_vec()),
            (2, Status::DeadlineMissed, vec![]),
            (3, Status::Ok, b"c".to_vec())
        ]
    );
}

#[test]
fn a_batch_error_answers_its_queries_and_the_replica_keeps_serving() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1, 2], 0);
    let (_, first, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", batch_error(first, "ValueError: bad input"), 1);
    let done = h.done();
    assert_eq!(done[0].1, Status::ModelError);
    assert!(String::from_utf8_lossy(&done[0].2).contains("ValueError: bad input"));
    let (_, second, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", response(second, &["ok"]), 2);
    assert_eq!(h.done(), vec![(2, Status::Ok, b"ok".to_vec())]);
}

#[test]
fn a_response_with_the_wrong_number_of_outputs_is_a_model_error() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit(&[1, 2], 0);
    let (_, msg_id, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", response(msg_id, &["only one"]), 1);
    let done = h.done();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|d| d.1 == Status::ModelError));
}

#[test]
fn garbage_and_wrong_rpc_versions_are_counted_and_ignored() {
    let mut h = Harness::new(4);
    h.recv(b"bad", vec![b"junk".to_vec()], 0);
    h.recv(b"old", new_container("sum", "1", 3, 2), 0);
    let counters = h.engine.snapshot(h.at(0)).counters;
    assert_eq!(
        (counters.malformed_messages, counters.refused_containers),
        (1, 1)
    );
    h.submit(&[1], 1);
    assert_eq!(
        h.done(),
        vec![(1, Status::NoConnectedModel, vec![])],
        "the old container was not registered"
    );
}

#[test]
fn a_container_with_the_wrong_input_type_is_refused() {
    let mut h = Harness::new(4);
    h.recv(b"c1", new_container("sum", "1", 1, 3), 0);
    assert!(h.engine.snapshot(h.at(0)).replicas.is_empty());
}

#[test]
fn an_idle_replica_silent_past_the_timeout_is_dropped() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.engine.on_tick(h.at(30_000));
    assert_eq!(
        h.engine.snapshot(h.at(30_000)).replicas.len(),
        1,
        "exactly 30 s of silence is tolerated"
    );
    h.engine.on_tick(h.at(31_001));
    assert!(h.engine.snapshot(h.at(31_001)).replicas.is_empty());
    assert!(h.engine.take_membership_changed());
    h.submit(&[1], 31_002);
    assert_eq!(h.done(), vec![(1, Status::NoConnectedModel, vec![])]);
}

#[test]
fn a_busy_replica_that_goes_silent_has_its_live_queries_requeued() {
    let mut h = Harness::new(4);
    h.engine.config = EngineConfig {
        replica_timeout: Duration::from_secs(30),
        busy_replica_timeout: Duration::from_millis(500),
    };
    // Long objective so the queries are still live when the replica is dropped.
    let now = h.at(0);
    h.connect(b"c1");
    let queries = vec![Query {
        id: 7,
        submitted: now,
        deadline: now + Duration::from_secs(10),
        input: Frame::Owned(vec![0; 8]),
    }];
    h.engine.apply(
        Command::Submit {
            model: h.model,
            queries,
        },
        now,
    );
    assert_eq!(h.sent_batches().len(), 1);
    h.recv(b"c2", new_container("sum", "1", 3, 3), 400);
    h.engine.on_tick(h.at(1000));
    let resent = h.sent_batches();
    assert_eq!(resent.len(), 1);
    assert_eq!(
        resent[0].0, b"c2",
        "the requeued query goes to the live replica"
    );
    h.recv(b"c2", response(resent[0].1, &["saved"]), 1001);
    assert_eq!(h.done(), vec![(7, Status::Ok, b"saved".to_vec())]);
    assert_eq!(h.engine.snapshot(h.at(1001)).counters.queries_requeued, 1);
}

#[test]
fn a_lost_replicas_batch_goes_to_another_replica_and_what_cannot_make_its_deadline_gets_its_default_at_once(
) {
    let mut h = Harness::new(2);
    h.connect(b"c1");
    h.connect(b"c2");
    // A first batch on each replica teaches the engine a round trip of 30 ms.
    h.submit(&[1, 2, 3, 4], 0);
    let warm = h.sent_batches();
    assert_eq!(warm.len(), 2);
    for (identity, msg_id, _) in &warm {
        h.recv(identity, response(*msg_id, &["w", "w"]), 30);
    }
    assert_eq!(h.done().len(), 4);
    // Query 5 (due at 140 ms) still has time for a round trip when its replica is lost at 80 ms; query 6
    // (due at 100 ms) has not.
    let now = h.at(40);
    let queries = [(5, 140), (6, 100)]
        .map(|(id, due)| Query {
            id,
            submitted: now,
            deadline: h.at(due),
            input: Frame::Owned(vec![id as u8; 8]),
        })
        .to_vec();
    h.engine.apply(
        Command::Submit {
            model: h.model,
            queries,
        },
        now,
    );
    let sent = h.sent_batches();
    assert_eq!(sent.len(), 1, "one idle replica takes the batch of two");
    let (lost, _, size) = sent[0].clone();
    assert_eq!(size, 2);
    h.engine.on_unreachable(&lost, h.at(80));
    assert_eq!(
        h.done(),
        vec![(6, Status::DeadlineMissed, vec![])],
        "the query a round trip cannot save is answered at once"
    );
    let resent = h.sent_batches();
    assert_eq!(resent.len(), 1);
    assert_ne!(resent[0].0, lost, "the other replica takes the rest");
    assert_eq!(resent[0].2, 1);
    h.recv(&resent[0].0.clone(), response(resent[0].1, &["five"]), 100);
    assert_eq!(h.done(), vec![(5, Status::Ok, b"five".to_vec())]);
    let counters = h.engine.snapshot(h.at(100)).counters;
    assert_eq!(counters.queries_requeued, 1);
    assert_eq!(counters.queries_defaulted_on_replica_loss, 1);
}

#[test]
fn removing_a_model_drops_its_waiting_queries() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1, 2], 0);
    h.engine.apply(Command::Remove { model: h.model }, h.at(1));
    let done = h.done();
    assert_eq!(done.len(), 2);
    assert!(done.iter().all(|d| d.1 == Status::Dropped));
    h.submit(&[3], 2);
    assert_eq!(h.done()[0].1, Status::Dropped);
}

#[test]
fn a_response_from_an_unknown_container_is_not_applied() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit(&[1], 0);
    let (_, msg_id, _) = h.sent_batches()[0].clone();
    h.recv(b"intruder", response(msg_id, &["forged"]), 1);
    assert!(h.done().is_empty());
    h.recv(b"c1", response(msg_id, &["real"]), 2);
    assert_eq!(h.done(), vec![(1, Status::Ok, b"real".to_vec())]);
}

#[test]
fn an_unreachable_replica_is_dropped_at_once_and_its_batch_goes_to_another() {
    let mut h = Harness::new(4);
    h.connect(b"gone");
    h.submit(&[1, 2], 0);
    assert_eq!(h.sent_batches()[0].0, b"gone");
    h.recv(b"live", new_container("sum", "1", 3, 3), 1);
    h.engine.on_unreachable(b"gone", h.at(2));
    let resent = h.sent_batches();
    assert_eq!(resent.len(), 1);
    assert_eq!((resent[0].0.as_slice(), resent[0].2), (&b"live"[..], 2));
    assert_eq!(h.engine.snapshot(h.at(2)).replicas.len(), 1);
}

#[test]
fn a_leaving_container_hands_its_batch_to_another_replica_and_its_late_answer_is_ignored() {
    let mut h = Harness::new(4);
    h.connect(b"old");
    h.submit(&[1], 0);
    let (_, first, _) = h.sent_batches()[0].clone();
    h.recv(b"new", new_container("sum", "1", 3, 3), 1);
    h.recv(b"old", vec![vec![], 4u32.to_le_bytes().to_vec()], 2);
    let resent = h.sent_batches();
    assert_eq!(resent[0].0, b"new");
    h.recv(b"old", response(first, &["late"]), 3);
    h.recv(b"new", response(resent[0].1, &["fresh"]), 4);
    assert_eq!(h.done(), vec![(1, Status::Ok, b"fresh".to_vec())]);
}

#[test]
fn model_outputs_fill_the_cache_and_defaults_and_errors_do_not() {
    let mut h = Harness::new(2);
    h.connect(b"c1");
    h.submit(&[1, 2], 0);
    let (_, msg, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", response(msg, &["one", "two"]), 5);
    h.submit(&[3], 10);
    let (_, msg, _) = h.sent_batches()[0].clone();
    h.engine.on_tick(h.at(200));
    h.recv(b"c1", response(msg, &["late"]), 250);
    h.submit(&[4], 300);
    let (_, msg, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", batch_error(msg, "boom"), 305);
    let cache = h.engine.cache.clone();
    let mut cache = lock(&cache);
    let input = |id: u64| (id as f64).to_le_bytes();
    assert_eq!(cache.get(h.model, &input(1)), Some(&b"one"[..]));
    assert_eq!(cache.get(h.model, &input(2)), Some(&b"two"[..]));
    assert_eq!(
        cache.get(h.model, &input(3)),
        None,
        "an output after the deadline is not kept"
    );
    assert_eq!(
        cache.get(h.model, &input(4)),
        None,
        "a failed batch is not an output"
    );
}

#[test]
fn removing_a_model_empties_its_cache_and_a_late_answer_does_not_refill_it() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1], 0);
    let (_, first, _) = h.sent_batches()[0].clone();
    h.recv(b"c1", response(first, &["one"]), 1);
    h.submit(&[2], 2);
    let (_, second, _) = h.sent_batches()[0].clone();
    h.engine.apply(Command::Remove { model: h.model }, h.at(3));
    h.recv(b"c1", response(second, &["two"]), 4);
    let mut cache = lock(&h.engine.cache);
    assert_eq!(cache.get(h.model, &(1f64).to_le_bytes()), None);
    assert_eq!(cache.get(h.model, &(2f64).to_le_bytes()), None);
    assert_eq!(cache.stats().entries, 0);
}

#[test]
fn the_engine_says_when_a_submission_could_be_acted_on_at_once() {
    let mut h = Harness::new(1);
    assert!(
        h.engine.could_act_on_submit(),
        "a model without a replica answers at once"
    );
    h.connect(b"c1");
    assert!(
        h.engine.could_act_on_submit(),
        "an idle replica takes a batch at once"
    );
    h.submit(&[1], 0);
    let sent = h.sent_batches();
    assert_eq!(sent.len(), 1);
    let msg = sent[0].1;
    assert!(!h.engine.could_act_on_submit(), "the only replica is busy");
    h.submit(&[2], 1);
    assert!(h.sent_batches().is_empty());
    h.recv(b"c1", response(msg, &["one"]), 2);
    assert_eq!(
        h.sent_batches().len(),
        1,
        "the answer freed the replica for the waiting query"
    );
    assert!(!h.engine.could_act_on_submit());
}

fn delayed(batch_size: i32, delay_millis: u64) -> Batching {
    Batching {
        batch_size,
        sizing: crate::batching::Sizing::Aimd,
        delay: Duration::from_millis(delay_millis),
    }
}

#[test]
fn a_partial_batch_waits_up_to_the_delay_for_more_queries_and_a_full_one_goes_at_once() {
    let mut h = Harness::new(8);
    h.configure(delayed(4, 5));
    h.connect(b"c1");
    // The first batch is never held: nothing bounds a wait before a round trip was seen.
    h.submit(&[1], 0);
    h.answer_all(0, 2);
    assert_eq!(h.done().len(), 1);
    h.submit(&[2], 10);
    assert!(h.sent_batches().is_empty(), "held for more queries");
    assert_eq!(
        h.engine.next_wakeup(),
        h.at(15),
        "the engine wakes when the wait is over"
    );
    h.submit(&[3, 4], 12);
    h.engine.on_tick(h.at(14));
    assert!(h.sent_batches().is_empty());
    h.engine.on_tick(h.at(15));
    let sent = h.sent_batches();
    assert_eq!(sent.iter().map(|b| b.2).collect::<Vec<_>>(), vec![3]);
    h.recv(b"c1", response(sent[0].1, &["a", "b", "c"]), 17);
    h.submit(&[5, 6, 7], 20);
    assert!(h.sent_batches().is_empty());
    h.submit(&[8], 21);
    assert_eq!(
        h.sent_batches().iter().map(|b| b.2).collect::<Vec<_>>(),
        vec![4],
        "a full batch is not held"
    );
}

#[test]
fn without_a_delay_a_partial_batch_goes_at_once() {
    let mut h = Harness::new(8);
    h.connect(b"c1");
    h.submit(&[1], 0);
    h.answer_all(0, 2);
    h.submit(&[2], 10);
    assert_eq!(h.sent_batches().len(), 1);
}

#[test]
fn a_delay_never_makes_a_query_late() {
    // Random delays, arrival times and model latencies: every query is still answered by the model before
    // its deadline, however long the delay.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    for case in 0..50 {
        let latency = 1 + next(40);
        let delay = next(300);
        let mut h = Harness::new(8);
        h.configure(delayed(16, delay));
        h.connect(b"c1");
        let mut t = 0;
        for id in 1..=60 {
            h.submit(&[id], t);
            let due = h.at(t) + SLO;
            // Waits out any hold (waking for stale timers too); the replica answers each batch `latency`
            // after it was sent.
            while h.sent_batches_peek() == 0 {
                let wake = h.engine.next_wakeup();
                assert!(wake < due, "case {case}: nothing sends the batch in time");
                t = ((wake - h.t0).as_micros() as u64).div_ceil(1000);
                h.engine.on_tick(wake);
            }
            h.answer_all(t, latency);
            t += latency + next(20);
            for (query, status, _) in h.done() {
                assert_eq!(
                    status,
                    Status::Ok,
                    "case {case}: query {query} (latency {latency} ms, delay {delay} ms)"
                );
            }
        }
    }
}

impl Harness {
    /// Submits queries `(id, input, deadline in ms)` at `millis`; equal inputs are identical queries.
    fn submit_same(&mut self, queries: &[(u64, u8, u64)], millis: u64) {
        let queries = queries
            .iter()
            .map(|&(id, input, due)| Query {
                id,
                submitted: self.at(millis),
                deadline: self.at(due),
                input: Frame::Owned(vec![input; 8]),
            })
            .collect();
        let now = self.at(millis);
        self.engine.apply(
            Command::Submit {
                model: self.model,
                queries,
            },
            now,
        );
    }

    fn coalesced(&self) -> u64 {
        self.engine.snapshot(self.t0).counters.queries_coalesced
    }
}

#[test]
fn identical_queries_in_flight_make_one_model_call_and_every_waiter_gets_its_output() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 100), (2, 8, 100), (3, 7, 100)], 0);
    let sent = h.sent_batches();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].2, 2, "query 3 follows query 1");
    h.submit_same(&[(4, 7, 100), (5, 7, 100)], 1);
    assert!(
        h.sent_batches().is_empty(),
        "identical to the input in flight"
    );
    h.recv(b"c1", response(sent[0].1, &["seven", "eight"]), 5);
    let seven = b"seven".to_vec();
    assert_eq!(
        h.done(),
        vec![
            (1, Status::Ok, seven.clone()),
            (2, Status::Ok, b"eight".to_vec()),
            (3, Status::Ok, seven.clone()),
            (4, Status::Ok, seven.clone()),
            (5, Status::Ok, seven)
        ]
    );
    assert_eq!(h.coalesced(), 3);
    assert_eq!(h.engine.snapshot(h.t0).counters.batches_sent, 1);
}

#[test]
fn a_follower_whose_deadline_passes_first_gets_its_default_and_the_others_still_get_the_output() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 100)], 0);
    let sent = h.sent_batches();
    h.submit_same(&[(2, 7, 20), (3, 7, 100)], 1);
    h.engine.on_tick(h.at(20));
    assert_eq!(h.done(), vec![(2, Status::DeadlineMissed, vec![])]);
    h.recv(b"c1", response(sent[0].1, &["seven"]), 30);
    assert_eq!(
        h.done(),
        vec![
            (1, Status::Ok, b"seven".to_vec()),
            (3, Status::Ok, b"seven".to_vec())
        ]
    );
    assert_eq!(h.coalesced(), 1);
}

#[test]
fn a_query_answered_at_its_deadline_while_computing_still_answers_its_followers() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 20)], 0);
    let sent = h.sent_batches();
    h.submit_same(&[(2, 7, 100)], 1);
    h.engine.on_tick(h.at(20));
    assert_eq!(h.done(), vec![(1, Status::DeadlineMissed, vec![])]);
    h.recv(b"c1", response(sent[0].1, &["seven"]), 30);
    assert_eq!(h.done(), vec![(2, Status::Ok, b"seven".to_vec())]);
}

#[test]
fn a_failed_batch_fails_every_waiter_with_the_same_error() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 100), (2, 7, 100)], 0);
    let sent = h.sent_batches();
    h.recv(b"c1", batch_error(sent[0].1, "boom"), 5);
    let done = h.done();
    assert_eq!(done.len(), 2);
    assert!(done
        .iter()
        .all(|(_, status, why)| *status == Status::ModelError && why == &done[0].2));
}

#[test]
fn a_replica_lost_mid_computation_has_it_redone_once_for_every_waiter() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 1000), (2, 7, 1000), (3, 7, 1000)], 0);
    let sent = h.sent_batches();
    assert_eq!(sent[0].2, 1);
    h.connect(b"c2");
    h.engine.on_unreachable(&sent[0].0, h.at(10));
    let resent = h.sent_batches();
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0].2, 1, "one computation for the three waiters");
    h.recv(&resent[0].0.clone(), response(resent[0].1, &["seven"]), 20);
    assert_eq!(h.done().len(), 3);
    assert_eq!(h.coalesced(), 2);
}

#[test]
fn removing_a_model_answers_every_waiter_of_its_computations() {
    let mut h = Harness::new(4);
    h.connect(b"c1");
    h.submit_same(&[(1, 7, 100), (2, 7, 100)], 0);
    assert_eq!(h.sent_batches().len(), 1);
    h.engine.apply(Command::Remove { model: h.model }, h.at(1));
    let done = h.done();
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), vec![1, 2]);
    assert!(done.iter().all(|d| d.1 == Status::Dropped));
}

#[test]
fn each_answer_says_how_long_its_query_waited_for_a_batch() {
    let mut h = Harness::new(1);
    h.connect(b"c1");
    h.submit(&[1], 0);
    let first = h.sent_batches();
    h.submit(&[2], 2);
    h.recv(b"c1", response(first[0].1, &["a"]), 10);
    let second = h.sent_batches();
    h.recv(b"c1", response(second[0].1, &["b"]), 15);
    let queued: Vec<(u64, u32)> = h
        .engine
        .done
        .iter()
        .map(|c| (c.id, c.queue_micros))
        .collect();
    assert_eq!(queued, vec![(1, 0), (2, 8_000)]);
}

#[test]
fn queries_that_waited_out_the_delay_behind_a_busy_replica_are_not_held_again() {
    let mut h = Harness::new(8);
    h.configure(delayed(4, 5));
    h.connect(b"c1");
    h.submit(&[1], 0);
    let first = h.sent_batches();
    // Query 2 waits behind query 1's batch for 20 ms, longer than the 5 ms delay.
    h.submit(&[2], 1);
    h.recv(b"c1", response(first[0].1, &["a"]), 21);
    assert_eq!(
        h.sent_batches().iter().map(|b| b.2).collect::<Vec<_>>(),
        vec![1],
        "sent as soon as the replica is free"
    );
}
