//! The model table: stable numeric ids for `name:version` keys, shared by the FFI thread (which hands ids
//! to the frontend) and the engine (which meets the same keys when containers connect).

use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Default)]
struct Inner {
    ids: HashMap<(String, String), u32>,
    keys: Vec<(String, String)>,
}

#[derive(Default)]
pub struct ModelTable {
    inner: Mutex<Inner>,
}

impl ModelTable {
    /// The id of `name:version`, assigned on first sight and never reused.
    pub fn id_for(&self, name: &str, version: &str) -> u32 {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (name.to_owned(), version.to_owned());
        if let Some(id) = inner.ids.get(&key) {
            return *id;
        }
        let id = inner.keys.len() as u32;
        inner.keys.push(key.clone());
        inner.ids.insert(key, id);
        id
    }

    /// Whether `id` was ever handed out (ids are never reused); no copy of the key, as submit asks it.
    pub fn contains(&self, id: u32) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (id as usize) < inner.keys.len()
    }

    pub fn key(&self, id: u32) -> Option<(String, String)> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.keys.get(id as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_key_always_gets_the_same_id() {
        let t = ModelTable::default();
        let a = t.id_for("m", "1");
        let b = t.id_for("m", "2");
        assert_ne!(a, b);
        assert_eq!(t.id_for("m", "1"), a);
        assert_eq!(t.key(b), Some(("m".into(), "2".into())));
        assert_eq!(t.key(99), None);
        assert!(t.contains(b) && !t.contains(99));
    }
}
