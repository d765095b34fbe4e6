//! The app table the native front reads on every predict: each application's input type, latency
//! objective, default output (already JSON) and the model version its queries go to.
//!
//! The TypeScript routing table publishes it whole on every change (`replace`), so it never disagrees with
//! configuration for long; lookups take a read lock and clone one `Arc`.

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
}

/// The model version an app's queries go to.
#[derive(Deserialize)]
pub struct Target {
    /// The model's id in the serving core.
    pub model: u32,
    /// `name:version`, for metrics.
    pub label: String,
}

pub struct AppRoute {
    pub input_type: InputType,
    pub latency_slo_micros: u64,
    /// The default output, embedded as JSON as the frontend embeds it.
    pub default_output: Vec<u8>,
    /// None: no model linked, or no version of it; queries get the default output.
    pub target: Option<Target>,
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
    /// latency_slo_micros, target: {model, label} | null}`.
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
            let mut default_output = Vec::new();
            write_embedded(&mut default_output, spec.default_output.as_bytes());
            let route = AppRoute {
                input_type,
                latency_slo_micros: spec.latency_slo_micros,
                default_output,
                target: spec.target,
            };
            routes.insert(spec.name, Arc::new(route));
        }
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(routes);
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
}
