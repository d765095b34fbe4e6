//! The app table the native front reads on every predict: each application's input type, latency
//! objective, default output (already JSON), and either the model version its queries go to or its
//! selection policy's members and weights (`selection` says how they are used).
//!
//! The TypeScript routing table publishes it whole on every change (`replace`), so it never disagrees with
//! configuration for long; lookups take a read lock and clone one `Arc`. A selection's per-user weights
//! change one user at a time (`set_user_weights`, on feedback) without a republication, behind a lock of
//! their own; a republication starts from what it publishes and keeps nothing of the old table. Owns the
//! table's validation; must not decide how weights are used.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::predict::write_embedded;
use crate::rpc::InputType;

#[derive(Deserialize)]
struct AppSpec {
    name: String,
    /// Wire id of the input type (RPC v3).
    input_type: u32,
    default_output: String,
    latency_slo_micros: u64,
    target: Option<Target>,
    selection: Option<SelectionSpec>,
}

/// A model version queries go to.
#[derive(Deserialize)]
pub struct Target {
    /// The model's id in the serving core.
    pub model: u32,
    /// `name:version`, for metrics and answers.
    pub label: String,
}

/// How a selection uses its members.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Each query goes to one member, drawn with the weights as probabilities.
    One,
    /// Each query goes to every member; the answers are combined with the weights.
    All,
}

/// How the answers of mode `all` combine.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Combine {
    #[default]
    Vote,
    Mean,
}

#[derive(Deserialize)]
struct SelectionSpec {
    mode: Mode,
    #[serde(default)]
    combine: Combine,
    #[serde(default)]
    min_confidence: f64,
    members: Vec<Target>,
    weights: Vec<f64>,
    #[serde(default)]
    users: HashMap<String, Vec<f64>>,
}

/// The uid of the shared weights, which every user without weights of their own uses.
pub const SHARED_UID: &str = "0";

#[derive(Default)]
struct Weights {
    shared: Arc<[f64]>,
    users: HashMap<String, Arc<[f64]>>,
}

/// An app's selection policy, as the native front applies it.
pub struct Selection {
    pub mode: Mode,
    pub combine: Combine,
    /// Below this confidence a combined answer is the default output; 0 is off.
    pub min_confidence: f64,
    pub members: Vec<Target>,
    /// One weight per member; the write lock is held only to swap one user's `Arc`.
    weights: RwLock<Weights>,
}

impl Selection {
    /// The weights of `uid`: its own when published, else the shared ones.
    pub fn weights(&self, uid: &str) -> Arc<[f64]> {
        let weights = self.weights.read().unwrap_or_else(|p| p.into_inner());
        weights.users.get(uid).unwrap_or(&weights.shared).clone()
    }

    /// Replaces the weights of `uid` (`SHARED_UID`: the shared ones).
    fn set(&self, uid: &str, weights: Vec<f64>) {
        let mut all = self.weights.write().unwrap_or_else(|p| p.into_inner());
        if uid == SHARED_UID {
            all.shared = weights.into();
        } else {
            all.users.insert(uid.to_owned(), weights.into());
        }
    }
}

/// Why `weights` (of `whose`) cannot weigh `members` members, if they cannot.
fn check_weights(weights: &[f64], members: usize, whose: &str) -> Result<(), String> {
    if weights.len() != members {
        return Err(format!(
            "{whose} has {} weights for {members} members",
            weights.len()
        ));
    }
    match weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
        Some(bad) => Err(format!(
            "{whose} has weight {bad}: weights must be finite and at least 0"
        )),
        None => Ok(()),
    }
}

impl SelectionSpec {
    fn build(self, app: &str) -> Result<Selection, String> {
        if self.members.is_empty() {
            return Err(format!("app \"{app}\" has a selection without members"));
        }
        if !(0.0..=1.0).contains(&self.min_confidence) {
            return Err(format!(
                "app \"{app}\" has min_confidence {}: it must be from 0 to 1",
                self.min_confidence
            ));
        }
        let members = self.members.len();
        check_weights(&self.weights, members, &format!("app \"{app}\""))?;
        let selection = Selection {
            mode: self.mode,
            combine: self.combine,
            min_confidence: self.min_confidence,
            members: self.members,
            weights: RwLock::new(Weights {
                shared: self.weights.into(),
                users: HashMap::with_capacity(self.users.len()),
            }),
        };
        for (uid, weights) in self.users {
            check_weights(&weights, members, &format!("app \"{app}\" user \"{uid}\""))?;
            selection.set(&uid, weights);
        }
        Ok(selection)
    }
}

pub struct AppRoute {
    pub input_type: InputType,
    pub latency_slo_micros: u64,
    /// The default output, embedded as JSON as the frontend embeds it.
    pub default_output: Vec<u8>,
    /// None: no model linked, or no version of it; queries get the default output. Unused with a
    /// selection.
    pub target: Option<Target>,
    pub selection: Option<Selection>,
}

/// `set_user_weights`'s argument.
#[derive(Deserialize)]
struct UserWeights {
    app: String,
    uid: String,
    weights: Vec<f64>,
}

#[derive(Default)]
pub struct AppTable {
    routes: RwLock<Arc<HashMap<String, Arc<AppRoute>>>>,
}

impl AppTable {
    pub fn get(&self, name: &str) -> Option<Arc<AppRoute>> {
        let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
        routes.get(name).cloned()
    }

    /// Replaces the table with the JSON array `json` of `{name, input_type, default_output,
    /// latency_slo_micros, target: {model, label} | null, selection?: {mode: "one" | "all", combine?:
    /// "vote" | "mean", min_confidence?, members: [{model, label}], weights: [..], users?: {uid: [..]}} |
    /// null}`; a bad table changes nothing.
    pub fn replace(&self, json: &[u8]) -> Result<(), String> {
        let specs: Vec<AppSpec> =
            serde_json::from_slice(json).map_err(|e| format!("Invalid app table: {e}"))?;
        let mut routes = HashMap::with_capacity(specs.len());
        for spec in specs {
            let input_type = InputType::from_id(spec.input_type).ok_or_else(|| {
                format!(
                    "Invalid app table: app \"{}\" has input type id {}",
                    spec.name, spec.input_type
                )
            })?;
            let selection = spec
                .selection
                .map(|s| s.build(&spec.name))
                .transpose()
                .map_err(|e| format!("Invalid app table: {e}"))?;
            let mut default_output = Vec::new();
            write_embedded(&mut default_output, spec.default_output.as_bytes());
            let route = AppRoute {
                input_type,
                latency_slo_micros: spec.latency_slo_micros,
                default_output,
                target: spec.target,
                selection,
            };
            routes.insert(spec.name, Arc::new(route));
        }
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
        Ok(())
    }

    /// Sets one user's weights from the JSON `{app, uid, weights: [..]}` (uid "0": the shared weights),
    /// seen by the app's next query.
    pub fn set_user_weights(&self, json: &[u8]) -> Result<(), String> {
        let UserWeights { app, uid, weights } =
            serde_json::from_slice(json).map_err(|e| format!("Invalid user weights: {e}"))?;
        let route = self
            .get(&app)
            .ok_or_else(|| format!("Cannot set user weights: no app \"{app}\" is published"))?;
        let selection = route.selection.as_ref().ok_or_else(|| {
            format!("Cannot set user weights: app \"{app}\" has no selection policy")
        })?;
        let whose = format!("app \"{app}\" user \"{uid}\"");
        check_weights(&weights, selection.members.len(), &whose)
            .map_err(|e| format!("Invalid user weights: {e}"))?;
        selection.set(&uid, weights);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_table_replaces_the_last_one_whole() {
        let table = AppTable::default();
        table
            .replace(br#"[{"name":"a","input_type":3,"default_output":"-1","latency_slo_micros":5,"target":{"model":2,"label":"m:1"}}]"#)
            .unwrap();
        let a = table.get("a").unwrap();
        assert_eq!(
            (a.input_type, a.latency_slo_micros),
            (InputType::Doubles, 5)
        );
        assert_eq!(a.default_output, b"-1");
        assert_eq!(a.target.as_ref().map(|t| t.model), Some(2));
        assert!(a.selection.is_none());
        table
            .replace(br#"[{"name":"b","input_type":4,"default_output":"none","latency_slo_micros":5,"target":null}]"#)
            .unwrap();
        assert!(table.get("a").is_none());
        assert_eq!(table.get("b").unwrap().default_output, b"\"none\"");
    }

    #[test]
    fn a_bad_table_is_refused_and_the_old_one_stays() {
        let table = AppTable::default();
        table
            .replace(br#"[{"name":"a","input_type":3,"default_output":"","latency_slo_micros":5,"target":null}]"#)
            .unwrap();
        let err = table
            .replace(br#"[{"name":"b","input_type":9,"default_output":"","latency_slo_micros":5,"target":null}]"#)
            .unwrap_err();
        assert!(err.contains("input type id 9"), "{err}");
        assert!(table.get("a").is_some());
    }

    /// A one-app table whose selection is the JSON `selection`.
    fn with_selection(selection: &str) -> String {
        format!(
            r#"[{{"name":"s","input_type":3,"default_output":"-1","latency_slo_micros":5,"target":null,"selection":{selection}}}]"#
        )
    }

    const TWO: &str = r#"{"mode":"one","members":[{"model":1,"label":"a:1"},{"model":2,"label":"b:1"}],"weights":[0.25,0.75],"users":{"5":[1,0]}}"#;

    #[test]
    fn a_user_s_own_weights_override_the_shared_ones() {
        let table = AppTable::default();
        table.replace(with_selection(TWO).as_bytes()).unwrap();
        let route = table.get("s").unwrap();
        let selection = route.selection.as_ref().unwrap();
        assert_eq!(
            (selection.mode, selection.combine, selection.min_confidence),
            (Mode::One, Combine::Vote, 0.0)
        );
        assert_eq!(&*selection.weights("5"), &[1.0, 0.0]);
        assert_eq!(&*selection.weights("6"), &[0.25, 0.75]);
        assert_eq!(&*selection.weights(SHARED_UID), &[0.25, 0.75]);
        table
            .set_user_weights(br#"{"app":"s","uid":"6","weights":[0,1]}"#)
            .unwrap();
        assert_eq!(&*selection.weights("6"), &[0.0, 1.0]);
        table
            .set_user_weights(br#"{"app":"s","uid":"0","weights":[0.5,0.5]}"#)
            .unwrap();
        assert_eq!(&*selection.weights("7"), &[0.5, 0.5]);
        assert_eq!(&*selection.weights("5"), &[1.0, 0.0]);
        // A republication keeps nothing of the users set since.
        table.replace(with_selection(TWO).as_bytes()).unwrap();
        let route = table.get("s").unwrap();
        assert_eq!(
            &*route.selection.as_ref().unwrap().weights("6"),
            &[0.25, 0.75]
        );
    }

    #[test]
    fn a_selection_whose_weights_do_not_fit_refuses_the_whole_table() {
        // Two members, then the fields of `rest`.
        let two = |rest: &str| {
            format!(
                r#"{{"members":[{{"model":1,"label":"a:1"}},{{"model":2,"label":"b:1"}}],{rest}}}"#
            )
        };
        for (selection, message) in [
            (
                two(r#""mode":"all","weights":[1]"#),
                "app \"s\" has 1 weights for 2 members",
            ),
            (
                two(r#""mode":"all","weights":[1,-0.5]"#),
                "app \"s\" has weight -0.5: weights must be finite and at least 0",
            ),
            (
                two(r#""mode":"one","weights":[1,1],"users":{"u":[1,2,3]}"#),
                "app \"s\" user \"u\" has 3 weights for 2 members",
            ),
            (
                two(r#""mode":"all","weights":[1,1],"min_confidence":2"#),
                "app \"s\" has min_confidence 2: it must be from 0 to 1",
            ),
            (
                r#"{"mode":"one","members":[],"weights":[]}"#.to_owned(),
                "app \"s\" has a selection without members",
            ),
            (
                two(r#""mode":"some","weights":[1,1]"#),
                "unknown variant `some`",
            ),
            (
                two(r#""mode":"all","combine":"median","weights":[1,1]"#),
                "unknown variant `median`",
            ),
        ] {
            let table = AppTable::default();
            table.replace(with_selection(TWO).as_bytes()).unwrap();
            let err = table
                .replace(with_selection(&selection).as_bytes())
                .unwrap_err();
            assert!(err.starts_with("Invalid app table: "), "{err}");
            assert!(err.contains(message), "{err} does not say {message}");
            assert_eq!(
                &*table
                    .get("s")
                    .unwrap()
                    .selection
                    .as_ref()
                    .unwrap()
                    .weights("5"),
                &[1.0, 0.0]
            );
        }
    }

    #[test]
    fn user_weights_are_refused_for_an_unknown_app_an_app_without_selection_or_a_wrong_length() {
        let table = AppTable::default();
        let plain = r#"{"name":"p","input_type":3,"default_output":"-1","latency_slo_micros":5,"target":null}"#;
        let apps = with_selection(TWO).replacen('[', &format!("[{plain},"), 1);
        table.replace(apps.as_bytes()).unwrap();
        for (json, message) in [
            (
                r#"{"app":"x","uid":"1","weights":[1,0]}"#,
                "Cannot set user weights: no app \"x\" is published",
            ),
            (
                r#"{"app":"p","uid":"1","weights":[1,0]}"#,
                "Cannot set user weights: app \"p\" has no selection policy",
            ),
            (
                r#"{"app":"s","uid":"1","weights":[1]}"#,
                "Invalid user weights: app \"s\" user \"1\" has 1 weights for 2 members",
            ),
            (
                r#"{"app":"s","uid":"1","weights":[1,-1]}"#,
                "Invalid user weights: app \"s\" user \"1\" has weight -1",
            ),
            (
                r#"{"app":"s","uid":1,"weights":[1,0]}"#,
                "Invalid user weights: ",
            ),
        ] {
            let err = table.set_user_weights(json.as_bytes()).unwrap_err();
            assert!(
                err.starts_with(message),
                "{err} does not start with {message}"
            );
        }
        let route = table.get("s").unwrap();
        assert_eq!(
            &*route.selection.as_ref().unwrap().weights("1"),
            &[0.25, 0.75]
        );
    }
}
