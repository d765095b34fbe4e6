//! Apps with a selection policy, answered natively: the TypeScript policies (src/policy) learn the weights
//! from feedback and publish them (`apps`); this file applies them per query, so neither a draw nor an
//! ensemble sends a request through the JavaScript runtime.
//!
//! - Draw (mode "one", Exp3, ε-greedy, UCB1): each query draws one member with the user's weights as
//!   probabilities (normalised by their sum; all zero draws evenly), from a SplitMix64 generator the core
//!   thread owns (`Rng`, seeded from the clock at start). A batch's queries are grouped by the member they
//!   drew, so each member gets one submission; the answer is the drawn model's, as for one model (cache
//!   hits included), plus `"models_used":[label]`.
//! - Fan-out (mode "all", Exp4 ensembles): each query goes to every member, each member's queries as one
//!   submission with ids of their own from the shared allocator. Member k's copy of query i is query
//!   `first + k·n + i`, so the answer's `query_id` is member 0's, the first id allocated for that query,
//!   and a batch's answers keep consecutive ids as with one model.
//! - Deadline cut: every member's query carries the app's objective, and the engine answers each one by
//!   its deadline at the latest (`DeadlineMissed` from its timer), so waiting for all of them ends at the
//!   deadline, give or take the timer's slack, with the members that answered by then: a straggler costs
//!   its own vote, never the app's objective.
//! - Combine: `write_combined`, by the rules tests/vectors/selection.json states (the TypeScript frontend
//!   tests against the same vectors). Beyond them: a mean no member weighs in on (no numeric output, only
//!   weightless members, or a sum too large for a double) answers the default output with
//!   `EXPLANATION_NO_MEAN`; a confidence whose denominator weighs nothing is 0; `min_confidence` is compared
//!   with the confidence as written (four decimals).
//!
//! A refused submission (overload, an unknown model) hands the request to the frontend, as for one model;
//! a fan-out's members already queued then answer nobody. Metrics count the request and its queries once
//! per app, and each member's answers under its own model version. Must not learn weights nor check them
//! (`apps` validated them).

use std::io::Write;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::apps::{AppRoute, Combine, Mode, Selection, Target, SHARED_UID};
use super::predict::{
    json_number, write_answer_fields, write_js_number, write_string, Outcome, Parsed, Uid,
};
use super::serve::{record, write_answers, Answers, Context};
use crate::completion::{Completion, Status};
use crate::runtime::submit::Inputs;

/// Why a mean answers the default output though members answered.
pub const EXPLANATION_NO_MEAN: &str = "The models' outputs have no weighted mean";

/// SplitMix64: one atomic add per draw, so concurrent requests never share a draw and no lock is taken.
pub struct Rng(AtomicU64);

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng(AtomicU64::new(seed))
    }

    pub fn from_clock() -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::seeded(nanos)
    }

    fn next_u64(&self) -> u64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .0
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn unit(&self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The member `u` (uniform in [0, 1)) draws with `weights` as probabilities: a member weighing 0 is never
/// drawn, and weights that are all 0 draw evenly.
pub fn draw(weights: &[f64], u: f64) -> usize {
    let total = weights.iter().fold(0.0, |sum, w| sum + w);
    if total <= 0.0 {
        return ((u * weights.len() as f64) as usize).min(weights.len().saturating_sub(1));
    }
    let target = u * total;
    let mut cumulative = 0.0;
    let mut last = 0;
    for (k, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cumulative += w;
            last = k;
            if target < cumulative {
                return k;
            }
        }
    }
    // Rounding can leave the target at the total: the last member that weighs anything.
    last
}

/// Answers a predict request of an app with a selection; None leaves it to the frontend (an unusual uid,
/// a refused submission).
pub async fn predict(
    ctx: &Context,
    app: &str,
    route: &AppRoute,
    selection: &Selection,
    parsed: Parsed,
    started: Instant,
) -> Option<Vec<u8>> {
    let weights = selection.weights(match &parsed.uid {
        Uid::Absent => SHARED_UID,
        Uid::Key(uid) => uid,
        Uid::Unusual => return None,
    });
    let asked = Asked {
        ctx,
        route,
        selection,
        weights: &weights,
        parsed: &parsed,
    };
    let answered = match selection.mode {
        Mode::One => asked.draw_one().await?,
        Mode::All => asked.ask_all().await?,
    };
    let Answered {
        json,
        defaults,
        groups,
        done,
    } = answered;
    let per_member = groups
        .into_iter()
        .map(|(member, slots)| (selection.members[member].label.as_str(), &done[slots]));
    record(
        ctx,
        app,
        per_member,
        parsed.inputs().count(),
        defaults,
        started,
    );
    Some(json)
}

/// A request to a selection app, its user's weights read.
struct Asked<'a> {
    ctx: &'a Context,
    route: &'a AppRoute,
    selection: &'a Selection,
    weights: &'a [f64],
    parsed: &'a Parsed,
}

/// What a mode answered: the body, and what `record` counts.
struct Answered {
    json: Vec<u8>,
    /// How many of its answers are the default output.
    defaults: usize,
    /// Each member asked, with its slots among `done`.
    groups: Vec<(usize, Range<usize>)>,
    done: Vec<(Completion, bool)>,
}

impl Asked<'_> {
    /// Mode "one": each query to the member it draws.
    async fn draw_one(&self) -> Option<Answered> {
        let (ctx, members) = (self.ctx, &self.selection.members);
        let inputs = self.parsed.inputs();
        let n = inputs.count();
        let drawn: Vec<usize> = (0..n).map(|_| draw(self.weights, ctx.rng.unit())).collect();
        // Slot s holds the s-th query in member order, so each member's queries are one submission.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| drawn[i]);
        let mut answers = Answers::new(ctx.shared.allocate_query_ids(n as u64), n);
        let mut groups = Vec::new();
        let mut at = 0;
        while at < n {
            let member = drawn[order[at]];
            let end = at
                + order[at..]
                    .iter()
                    .take_while(|&&i| drawn[i] == member)
                    .count();
            let (model, slo) = (members[member].model, self.route.latency_slo_micros);
            let submitted = if end - at == n {
                // All drew one member (always so for one input): the inputs as they are.
                answers.submit(ctx, model, slo, 0, inputs)
            } else {
                let (offsets, data) = inputs.gather(&order[at..end]);
                let group = Inputs {
                    offsets: &offsets,
                    data: &data,
                };
                answers.submit(ctx, model, slo, at, group)
            };
            if !submitted {
                return None;
            }
            groups.push((member, at..end));
            at = end;
        }
        let done = answers.wait().await;
        let mut slot_of = vec![0; n];
        for (s, &i) in order.iter().enumerate() {
            slot_of[i] = s;
        }
        let default_output = &self.route.default_output;
        let (json, defaults) = write_answers(self.parsed.batch, n, |out, i| {
            let (c, _) = &done[slot_of[i]];
            let label = &members[drawn[i]].label;
            write_drawn(out, c.id, c.status, &c.payload, default_output, label)
        });
        Some(Answered {
            json,
            defaults,
            groups,
            done,
        })
    }

    /// Mode "all": each query to every member, combined.
    async fn ask_all(&self) -> Option<Answered> {
        let (ctx, members) = (self.ctx, &self.selection.members);
        let inputs = self.parsed.inputs();
        let n = inputs.count();
        let first = ctx.shared.allocate_query_ids((n * members.len()) as u64);
        let mut answers = Answers::new(first, n * members.len());
        for (k, member) in members.iter().enumerate() {
            let slo = self.route.latency_slo_micros;
            if !answers.submit(ctx, member.model, slo, k * n, inputs) {
                return None;
            }
        }
        let done = answers.wait().await;
        let ensemble = Ensemble {
            combine: self.selection.combine,
            min_confidence: self.selection.min_confidence,
            members,
            weights: self.weights,
            default_output: &self.route.default_output,
        };
        let (json, defaults) = write_answers(self.parsed.batch, n, |out, i| {
            let result = |k: usize| {
                let (c, _) = &done[k * n + i];
                (c.status, c.payload.as_slice())
            };
            write_combined(out, first + i as u64, &ensemble, result)
        });
        let groups = (0..members.len())
            .map(|k| (k, k * n..(k + 1) * n))
            .collect();
        Some(Answered {
            json,
            defaults,
            groups,
            done,
        })
    }
}

/// Writes one query's answer from the member it drew: the answer of one model, plus `models_used`. True
/// when it is the default output.
pub fn write_drawn(
    out: &mut Vec<u8>,
    query_id: u64,
    status: Status,
    payload: &[u8],
    default_output: &[u8],
    label: &str,
) -> bool {
    write_answer_fields(out, query_id, &Outcome::of(status, payload), default_output);
    out.extend_from_slice(b",\"models_used\":[");
    write_string(out, label);
    out.extend_from_slice(b"]}");
    status != Status::Ok
}

/// What combining a query's member answers needs besides the answers.
pub struct Ensemble<'a> {
    pub combine: Combine,
    pub min_confidence: f64,
    pub members: &'a [Target],
    /// One per member.
    pub weights: &'a [f64],
    /// Already JSON.
    pub default_output: &'a [u8],
}

/// `part / whole`, 0 when the whole weighs nothing.
fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// `round(value · 10000) / 10000` with exactly four decimals, as JavaScript's `toFixed(4)` writes it; the
/// digits come from the rounded integer, so no binary fraction shows.
fn four_decimals(value: f64) -> String {
    let r = ten_thousandths(value);
    format!("{}.{:04}", r / 10_000, r % 10_000)
}

/// A share in ten-thousandths, rounded as the answers write it: 0.5 is 5000.
fn ten_thousandths(value: f64) -> u64 {
    (value * 10_000.0).round() as u64
}

/// The winner of a vote among the members `counted`, and its share of their weight: outputs are grouped by
/// exact text, each group's weight summed in member order; a tie goes to the earliest member's output.
fn vote<'a>(
    weights: &[f64],
    counted: &[bool],
    result: &impl Fn(usize) -> (Status, &'a [u8]),
) -> (Option<&'a [u8]>, f64) {
    let same = |j: usize, text: &[u8]| counted[j] && result(j).1 == text;
    let (mut best, mut answered): (Option<(&[u8], f64)>, f64) = (None, 0.0);
    for k in (0..counted.len()).filter(|&k| counted[k]) {
        answered += weights[k];
        let text = result(k).1;
        // Each text is weighed once, from its earliest member.
        if (0..k).any(|j| same(j, text)) {
            continue;
        }
        let sum = (k..counted.len())
            .filter(|&j| same(j, text))
            .fold(0.0, |sum, j| sum + weights[j]);
        if best.is_none_or(|(_, most)| sum > most) {
            best = Some((text, sum));
        }
    }
    best.map_or((None, 0.0), |(text, sum)| {
        (Some(text), share(sum, answered))
    })
}

/// Writes one query's combined answer from each member k's `result(k)` (status, payload), by the rules of
/// tests/vectors/selection.json: `{query_id, output, default, default_explanation?, models_used,
/// models_missing, confidence}`. True when it is the default output.
pub fn write_combined<'a>(
    out: &mut Vec<u8>,
    query_id: u64,
    ensemble: &Ensemble<'_>,
    result: impl Fn(usize) -> (Status, &'a [u8]),
) -> bool {
    let weights = ensemble.weights;
    let members = weights.len();
    let answered = (0..members).any(|k| result(k).0 == Status::Ok);
    let mut mean_text = Vec::new();
    let (counted, output, confidence) = match ensemble.combine {
        Combine::Vote => {
            let counted: Vec<bool> = (0..members).map(|k| result(k).0 == Status::Ok).collect();
            let (output, confidence) = vote(weights, &counted, &result);
            (counted, output, confidence)
        }
        Combine::Mean => {
            let values: Vec<Option<f64>> = (0..members)
                .map(|k| match result(k) {
                    (Status::Ok, payload) => json_number(payload),
                    _ => None,
                })
                .collect();
            let (mut sum, mut weight) = (0.0, 0.0);
            for (x, w) in values.iter().zip(weights) {
                if let Some(x) = x {
                    sum += w * x;
                    weight += w;
                }
            }
            let mean = sum / weight;
            let output = mean.is_finite().then(|| {
                write_js_number(&mut mean_text, mean);
                &mean_text[..]
            });
            let total = weights.iter().fold(0.0, |sum, w| sum + w);
            let counted = values.iter().map(Option::is_some).collect();
            (counted, output, share(weight, total))
        }
    };
    let outcome = match output {
        _ if !answered => {
            let (status, payload) = result(0);
            Outcome::of(status, payload)
        }
        None => Outcome::Default(EXPLANATION_NO_MEAN.into()),
        // As written: an answer never says a confidence is below a minimum that reads the same.
        Some(_) if ten_thousandths(confidence) < ten_thousandths(ensemble.min_confidence) => {
            Outcome::Default(
                format!(
                    "Models disagree: confidence {} is below min_confidence {}",
                    four_decimals(confidence),
                    four_decimals(ensemble.min_confidence)
                )
                .into(),
            )
        }
        Some(output) => Outcome::Output(output),
    };
    write_answer_fields(out, query_id, &outcome, ensemble.default_output);
    for (field, listed) in [
        (&b",\"models_used\":["[..], true),
        (b"],\"models_missing\":[", false),
    ] {
        out.extend_from_slice(field);
        let labels = ensemble.members.iter().zip(&counted);
        for (n, (member, _)) in labels.filter(|(_, &c)| c == listed).enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_string(out, &member.label);
        }
    }
    let _ = write!(out, "],\"confidence\":{}}}", four_decimals(confidence));
    matches!(outcome, Outcome::Default(_))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write as _};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::*;
    use crate::engine::EngineConfig;
    use crate::http::predict::{status_named, write_embedded};
    use crate::http::{Front, FrontConfig};
    use crate::runtime::submit::Admission;
    use crate::runtime::testing::{await_replicas, configure, Dealer};
    use crate::runtime::Runtime;

    #[derive(serde::Deserialize)]
    struct AllVector {
        name: String,
        combine: Combine,
        min_confidence: f64,
        default_output: String,
        members: Vec<String>,
        weights: Vec<f64>,
        results: Vec<(String, String)>,
        answer: String,
    }

    #[derive(serde::Deserialize)]
    struct OneVector {
        name: String,
        member: String,
        default_output: String,
        result: (String, String),
        answer: String,
    }

    #[derive(serde::Deserialize)]
    struct Vectors {
        all: Vec<AllVector>,
        one: Vec<OneVector>,
    }

    fn vectors() -> Vectors {
        serde_json::from_str(include_str!("../../../../tests/vectors/selection.json")).unwrap()
    }

    fn embedded(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_embedded(&mut out, text.as_bytes());
        out
    }

    fn targets(labels: &[&str]) -> Vec<Target> {
        labels
            .iter()
            .map(|label| Target {
                model: 0,
                label: (*label).to_owned(),
            })
            .collect()
    }

    fn combined(ensemble: &Ensemble<'_>, results: &[(Status, &[u8])]) -> (String, bool) {
        let mut out = Vec::new();
        let default = write_combined(&mut out, 7, ensemble, |k| results[k]);
        (String::from_utf8(out).unwrap(), default)
    }

    /// The answers the core and the TypeScript frontend must both write.
    #[test]
    fn combined_answers_match_the_shared_vectors_byte_for_byte() {
        let vectors = vectors();
        assert!(vectors.all.len() >= 10);
        for v in vectors.all {
            let labels: Vec<&str> = v.members.iter().map(String::as_str).collect();
            let members = targets(&labels);
            let default_output = embedded(&v.default_output);
            let ensemble = Ensemble {
                combine: v.combine,
                min_confidence: v.min_confidence,
                members: &members,
                weights: &v.weights,
                default_output: &default_output,
            };
            let results: Vec<(Status, &[u8])> = v
                .results
                .iter()
                .map(|(status, payload)| (status_named(status), payload.as_bytes()))
                .collect();
            let (answer, default) = combined(&ensemble, &results);
            assert_eq!(answer, v.answer, "{}", v.name);
            assert_eq!(default, answer.contains("\"default\":true"), "{}", v.name);
        }
    }

    #[test]
    fn drawn_answers_match_the_shared_vectors_byte_for_byte() {
        for v in vectors().one {
            let (status, payload) = (status_named(&v.result.0), v.result.1.as_bytes());
            let default_output = embedded(&v.default_output);
            let mut out = Vec::new();
            let default = write_drawn(&mut out, 7, status, payload, &default_output, &v.member);
            let answer = String::from_utf8(out).unwrap();
            assert_eq!(answer, v.answer, "{}", v.name);
            assert_eq!(default, answer.contains("\"default\":true"), "{}", v.name);
        }
    }

    #[test]
    fn a_mean_no_member_weighs_in_on_answers_the_default_saying_so() {
        let members = targets(&["a:1", "b:1"]);
        let ensemble = |weights| Ensemble {
            combine: Combine::Mean,
            min_confidence: 0.0,
            members: &members,
            weights,
            default_output: b"-1",
        };
        let why = format!("\"default_explanation\":\"{EXPLANATION_NO_MEAN}\"");
        let words: [(Status, &[u8]); 2] = [(Status::Ok, b"cat"), (Status::Ok, b"dog")];
        let (answer, default) = combined(&ensemble(&[1.0, 1.0]), &words);
        assert!(default && answer.contains(&why), "{answer}");
        assert!(answer
            .ends_with(r#""models_used":[],"models_missing":["a:1","b:1"],"confidence":0.0000}"#));
        let weightless: [(Status, &[u8]); 2] = [(Status::Ok, b"3"), (Status::DeadlineMissed, b"")];
        let (answer, _) = combined(&ensemble(&[0.0, 1.0]), &weightless);
        assert!(answer.contains(&why), "{answer}");
        assert!(answer
            .ends_with(r#""models_used":["a:1"],"models_missing":["b:1"],"confidence":0.0000}"#));
        let huge: [(Status, &[u8]); 2] = [(Status::Ok, b"1e308"), (Status::Ok, b"1e308")];
        let (answer, _) = combined(&ensemble(&[1.0, 1.0]), &huge);
        assert!(answer.contains(&why), "{answer}");
    }

    #[test]
    fn a_vote_among_weightless_members_goes_to_the_earliest_with_confidence_zero() {
        let members = targets(&["a:1", "b:1"]);
        let ensemble = Ensemble {
            combine: Combine::Vote,
            min_confidence: 0.0,
            members: &members,
            weights: &[0.0, 0.0],
            default_output: b"-1",
        };
        let (answer, default) = combined(&ensemble, &[(Status::Ok, b"1"), (Status::Ok, b"2")]);
        assert!(!default);
        assert_eq!(
            answer,
            r#"{"query_id":7,"output":1,"default":false,"models_used":["a:1","b:1"],"models_missing":[],"confidence":0.0000}"#
        );
    }

    #[test]
    fn confidence_is_rounded_half_up_to_four_decimals() {
        assert_eq!(four_decimals(0.0), "0.0000");
        assert_eq!(four_decimals(1.0), "1.0000");
        assert_eq!(four_decimals(2.0 / 3.0), "0.6667");
        assert_eq!(four_decimals(0.00005), "0.0001");
        assert_eq!(four_decimals(0.12344999), "0.1234");
    }

    #[test]
    fn a_member_weighing_nothing_is_never_drawn() {
        let rng = Rng::seeded(42);
        for _ in 0..10_000 {
            assert_eq!(draw(&[0.0, 1.0, 0.0], rng.unit()), 1);
            assert_ne!(draw(&[0.5, 0.0, 0.5], rng.unit()), 1);
        }
        // A target rounded up to the total still lands on a member that weighs something.
        assert_eq!(draw(&[0.1, 0.2, 0.0], 1.0 - f64::EPSILON / 2.0), 1);
        assert_eq!(draw(&[0.0, 0.0, 0.0], 0.99), 2);
    }

    #[test]
    fn draws_follow_the_weights_normalised_by_their_sum() {
        let rng = Rng::seeded(7);
        let weights = [2.0, 5.0, 3.0];
        let draws = 100_000;
        let mut seen = [0usize; 3];
        for _ in 0..draws {
            seen[draw(&weights, rng.unit())] += 1;
        }
        for (k, w) in weights.iter().enumerate() {
            let frequency = seen[k] as f64 / draws as f64;
            assert!(
                (frequency - w / 10.0).abs() < 0.01,
                "member {k}: {frequency}"
            );
        }
    }

    #[test]
    fn a_seed_fixes_the_draws_and_they_stay_in_the_unit_interval() {
        let (a, b) = (Rng::seeded(1), Rng::seeded(1));
        for _ in 0..1000 {
            let u = a.unit();
            assert_eq!(u.to_bits(), b.unit().to_bits());
            assert!((0.0..1.0).contains(&u));
        }
        assert_ne!(Rng::seeded(2).unit(), Rng::seeded(1).unit());
    }

    /// A core serving the query port, with models `name:1` (doubles) configured for `names`.
    struct Served {
        runtime: Runtime,
        front: Front,
        port: u16,
        ids: Vec<u32>,
    }

    impl Served {
        fn new(names: &[&str]) -> Served {
            let runtime = Runtime::start(
                "tcp://127.0.0.1:0",
                EngineConfig::default(),
                0,
                Admission::total(100),
                crate::rpc::zmtp::MAX_MESSAGE_BYTES,
            )
            .unwrap();
            let ids = names.iter().map(|name| configure(&runtime, name)).collect();
            // Nothing listens there: a forwarded request is answered 500.
            let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let fallback_port = closed.local_addr().unwrap().port();
            drop(closed);
            let front = Front::default();
            let config = FrontConfig {
                host: "127.0.0.1",
                port: 0,
                fallback_port,
                limits: crate::http::Limits::generous(1 << 20),
                tls: None,
                threads: 1,
            };
            let port = front.start(&runtime, &config).unwrap();
            Served {
                runtime,
                front,
                port,
                ids,
            }
        }

        /// A container for `name:1` that never answers, connected while it lives.
        fn silent(&self, name: &str) -> Dealer {
            let mut dealer = Dealer::connect(&self.runtime, None);
            dealer.introduce(name).unwrap();
            dealer
        }

        /// A container for `name:1` answering `output(name, x)` to a query whose input starts with x.
        fn answering(&self, name: &str, output: fn(&str, f64) -> String) {
            let name = name.to_owned();
            self.silent(&name).serve(move |input| {
                output(&name, f64::from_le_bytes(input[..8].try_into().unwrap()))
            });
        }

        /// Publishes app "s" with the JSON `selection`, where `{modelK}` stands for the K-th model's id.
        fn publish(&self, slo_micros: u64, selection: &str) {
            let mut selection = selection.to_owned();
            for (k, id) in self.ids.iter().enumerate() {
                selection = selection.replace(&format!("{{model{k}}}"), &id.to_string());
            }
            let apps = format!(
                r#"[{{"name":"s","input_type":3,"default_output":"-1","latency_slo_micros":{slo_micros},"target":null,"selection":{selection}}}]"#
            );
            self.front.apps.replace(apps.as_bytes()).unwrap();
        }

        /// POSTs `body` to app "s": the status, the body as JSON, and how long the answer took.
        fn predict(&self, body: &str) -> (u16, serde_json::Value, Duration) {
            let started = Instant::now();
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
            let request = format!(
                "POST /s/predict HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            let status = head[9..12].parse().unwrap();
            (
                status,
                serde_json::from_str(body).unwrap(),
                started.elapsed(),
            )
        }
    }

    impl Drop for Served {
        fn drop(&mut self) {
            self.front.stop(Duration::from_secs(10));
        }
    }

    #[test]
    fn a_straggler_costs_its_vote_and_the_ensemble_answers_at_the_deadline() {
        let served = Served::new(&["fast", "slow"]);
        served.answering("fast", |_, _| "1".into());
        let _slow = served.silent("slow");
        await_replicas(&served.runtime, &["fast", "slow"]);
        let slo = Duration::from_millis(200);
        served.publish(
            slo.as_micros() as u64,
            r#"{"mode":"all","combine":"vote","members":[{"model":{model0},"label":"fast:1"},{"model":{model1},"label":"slow:1"}],"weights":[1,3]}"#,
        );
        let (status, answer, took) = served.predict(r#"{"input": [1]}"#);
        assert_eq!(status, 200);
        assert!(took >= slo && took < slo * 3, "answered after {took:?}");
        let expected = serde_json::json!({
            "query_id": answer["query_id"], "output": 1, "default": false,
            "models_used": ["fast:1"], "models_missing": ["slow:1"], "confidence": 1.0,
        });
        assert_eq!(answer, expected);
        let (_, batch, _) = served.predict(r#"{"input_batch": [[1], [2]], "uid": "someone"}"#);
        let answers = batch["batch_predictions"].as_array().unwrap();
        let ids: Vec<u64> = answers
            .iter()
            .map(|a| a["query_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids[1], ids[0] + 1);
        assert!(answers
            .iter()
            .all(|a| a["models_missing"] == serde_json::json!(["slow:1"])));
        let metrics = served
            .front
            .metrics
            .lock()
            .unwrap()
            .take_json(1 << 20)
            .unwrap();
        let metrics: serde_json::Value = serde_json::from_slice(&metrics).unwrap();
        let app = &metrics["apps"]["s"];
        assert_eq!(
            (
                &app["requests"],
                &app["predictions"],
                &app["default_outputs"]
            ),
            (&2.into(), &3.into(), &0.into())
        );
        assert_eq!(metrics["models"]["fast:1"]["predictions"], 3);
        assert_eq!(metrics["models"]["slow:1"]["predictions"], 0);
    }

    #[test]
    fn each_query_goes_to_the_member_its_user_s_weights_draw() {
        let served = Served::new(&["a", "b"]);
        served.answering("a", |name, x| format!("\"{name}:{x}\""));
        served.answering("b", |name, x| format!("\"{name}:{x}\""));
        await_replicas(&served.runtime, &["a", "b"]);
        served.publish(
            1_000_000,
            r#"{"mode":"one","members":[{"model":{model0},"label":"a:1"},{"model":{model1},"label":"b:1"}],"weights":[0,1],"users":{"5":[1,0]}}"#,
        );
        let (_, shared, _) = served.predict(r#"{"input": [1]}"#);
        assert_eq!(
            (&shared["output"], &shared["models_used"]),
            (&"b:1".into(), &serde_json::json!(["b:1"]))
        );
        let (_, own, _) = served.predict(r#"{"input": [2], "uid": 5}"#);
        assert_eq!(
            (&own["output"], &own["models_used"]),
            (&"a:2".into(), &serde_json::json!(["a:1"]))
        );
        // Feedback moves user 5 to an even draw: a batch splits between the members, in input order.
        let set = r#"{"app":"s","uid":"5","weights":[0.5,0.5]}"#;
        served.front.apps.set_user_weights(set.as_bytes()).unwrap();
        let inputs: Vec<String> = (0..40).map(|i| format!("[{i}]")).collect();
        let body = format!(r#"{{"input_batch": [{}], "uid": "5"}}"#, inputs.join(","));
        let (_, batch, _) = served.predict(&body);
        let answers = batch["batch_predictions"].as_array().unwrap();
        let mut drawn = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for (i, answer) in answers.iter().enumerate() {
            let label = answer["models_used"][0].as_str().unwrap();
            let name = label.strip_suffix(":1").unwrap();
            assert_eq!(answer["output"], format!("{name}:{i}"), "{answer}");
            drawn.insert(name.to_owned());
            ids.insert(answer["query_id"].as_u64().unwrap());
        }
        assert_eq!((answers.len(), ids.len(), drawn.len()), (40, 40, 2));
        // A uid that is not a string or an integer is the frontend's, which is not there.
        let (status, forwarded, _) = served.predict(r#"{"input": [1], "uid": 1.5}"#);
        assert_eq!((status, &forwarded["code"]), (500, &"internal".into()));
    }
}
