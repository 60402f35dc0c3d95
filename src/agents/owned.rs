//! What jackin writes into a handoff that does not come from a host file (SPEC v3 §3a): a
//! whole file made from the instance's settings (codex's API-key `auth.json`), or a few keys
//! of a JSON document it shares with the container (claude's `.claude.json`).
//!
//! A shared document is the container's: the agent rewrites it on every start (counters,
//! tips, its own trust answers). jackin owns only the keys listed in [`OwnedKeys`]; the
//! three-way rule of SPEC §4 compares the canonical JSON of those keys ([`OwnedKeys::wanted`]
//! against [`OwnedKeys::found`]), so what the agent or the host's own client does to any
//! other key plans nothing and restarts nothing, and a merge ([`OwnedKeys::merge`]) leaves
//! every other key as the container had it.

use serde_json::{Map, Value};

/// The content of a file jackin makes itself (as opposed to copying a host file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// The whole file, written as is.
    Bytes(Vec<u8>),
    /// A few keys merged into the container's JSON document.
    Keys(OwnedKeys),
}

impl Content {
    /// The canonical bytes the three-way rule hashes for this content.
    pub fn canonical(&self) -> Vec<u8> {
        match self {
            Content::Bytes(b) => b.clone(),
            Content::Keys(k) => k.wanted(),
        }
    }
}

/// What jackin wants at one key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// The key holds exactly this value.
    Set(Value),
    /// The key is not there (jackin removes what it once forwarded).
    Absent,
    /// The key holds an array that contains this value (other items are the container's).
    Includes(Value),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedKey {
    /// Object keys from the document's root.
    pub path: Vec<String>,
    pub want: Want,
}

/// The keys of a shared JSON document that jackin owns, in a fixed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedKeys(pub Vec<OwnedKey>);

impl OwnedKeys {
    pub fn set(&mut self, path: &[&str], value: Value) {
        self.push(path, Want::Set(value));
    }

    pub fn absent(&mut self, path: &[&str]) {
        self.push(path, Want::Absent);
    }

    pub fn includes(&mut self, path: &[&str], value: Value) {
        self.push(path, Want::Includes(value));
    }

    fn push(&mut self, path: &[&str], want: Want) {
        let path = path.iter().map(|s| (*s).to_owned()).collect();
        self.0.push(OwnedKey { path, want });
    }

    /// The canonical form of what jackin wants: one `[path, value]` pair per key, where an
    /// absent key is `null` and an inclusion is `true`.
    pub fn wanted(&self) -> Vec<u8> {
        self.canonical(|k| match &k.want {
            Want::Set(v) => v.clone(),
            Want::Absent => Value::Null,
            Want::Includes(_) => Value::Bool(true),
        })
    }

    /// The same canonical form, of what `doc` holds at the owned keys: equal to
    /// [`OwnedKeys::wanted`] exactly when the document is as jackin wants it. A document that
    /// is not a JSON object holds nothing.
    pub fn found(&self, doc: &[u8]) -> Vec<u8> {
        let root = serde_json::from_slice::<Value>(doc).unwrap_or(Value::Null);
        self.canonical(|k| {
            let at = lookup(&root, &k.path);
            match &k.want {
                Want::Set(_) | Want::Absent => at.cloned().unwrap_or(Value::Null),
                Want::Includes(v) => Value::Bool(
                    at.and_then(Value::as_array)
                        .is_some_and(|items| items.contains(v)),
                ),
            }
        })
    }

    fn canonical(&self, value: impl Fn(&OwnedKey) -> Value) -> Vec<u8> {
        let pairs: Vec<Value> = self
            .0
            .iter()
            .map(|k| Value::Array(vec![k.path.clone().into(), value(k)]))
            .collect();
        // serde_json's maps are sorted, so equal values serialise to equal bytes.
        serde_json::to_vec(&pairs).unwrap_or_default()
    }

    /// `doc` (the container's document; `None` or not a JSON object: an empty one) with the
    /// owned keys as jackin wants them and every other key as it was.
    pub fn merge(&self, doc: Option<&[u8]>) -> Vec<u8> {
        let mut root = match doc.map(serde_json::from_slice::<Value>) {
            Some(Ok(Value::Object(m))) => m,
            _ => Map::new(),
        };
        for k in &self.0 {
            let Some((last, parents)) = k.path.split_last() else {
                continue;
            };
            match &k.want {
                Want::Absent => {
                    if let Some(obj) = walk(&mut root, parents, false) {
                        obj.remove(last);
                    }
                }
                Want::Set(v) => {
                    if let Some(obj) = walk(&mut root, parents, true) {
                        obj.insert(last.clone(), v.clone());
                    }
                }
                Want::Includes(v) => {
                    if let Some(obj) = walk(&mut root, parents, true) {
                        let slot = obj
                            .entry(last.clone())
                            .or_insert_with(|| Value::Array(Vec::new()));
                        if !slot.is_array() {
                            *slot = Value::Array(Vec::new());
                        }
                        if let Value::Array(items) = slot {
                            if !items.contains(v) {
                                items.push(v.clone());
                            }
                        }
                    }
                }
            }
        }
        let mut out = serde_json::to_vec_pretty(&Value::Object(root)).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

fn lookup<'a>(root: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(root, |v, key| v.get(key))
}

/// The object at `path` under `root`; with `make`, missing objects (or anything that is not
/// an object where one belongs) become empty objects.
fn walk<'a>(
    root: &'a mut Map<String, Value>,
    path: &[String],
    make: bool,
) -> Option<&'a mut Map<String, Value>> {
    let mut obj = root;
    for key in path {
        if make {
            let slot = obj
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
        }
        obj = obj.get_mut(key)?.as_object_mut()?;
    }
    Some(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys() -> OwnedKeys {
        let mut k = OwnedKeys::default();
        k.set(&["hasCompletedOnboarding"], json!(true));
        k.set(&["projects", "/w", "hasTrustDialogAccepted"], json!(true));
        k.includes(&["customApiKeyResponses", "approved"], json!("abc"));
        k.absent(&["oauthAccount"]);
        k
    }

    #[test]
    fn a_merge_sets_the_owned_keys_and_keeps_every_other_key() {
        let doc = br#"{"numStartups": 7, "oauthAccount": {"a": 1}, "projects": {"/w": {"allowedTools": ["x"]}, "/other": {}}, "customApiKeyResponses": {"approved": ["old"], "rejected": ["r"]}}"#;
        let merged: Value = serde_json::from_slice(&keys().merge(Some(doc))).unwrap();
        assert_eq!(
            merged,
            json!({
                "numStartups": 7,
                "hasCompletedOnboarding": true,
                "projects": {"/w": {"allowedTools": ["x"], "hasTrustDialogAccepted": true}, "/other": {}},
                "customApiKeyResponses": {"approved": ["old", "abc"], "rejected": ["r"]}
            })
        );
        assert_eq!(keys().found(&keys().merge(Some(doc))), keys().wanted());
    }

    #[test]
    fn only_the_owned_keys_decide_whether_the_document_is_as_wanted() {
        let k = keys();
        let merged = k.merge(None);
        let mut doc: Value = serde_json::from_slice(&merged).unwrap();
        doc["numStartups"] = json!(99);
        doc["tipsHistory"] = json!({"x": 3});
        assert_eq!(k.found(&serde_json::to_vec(&doc).unwrap()), k.wanted());
        doc["projects"]["/w"]["hasTrustDialogAccepted"] = json!(false);
        assert_ne!(k.found(&serde_json::to_vec(&doc).unwrap()), k.wanted());
    }

    #[test]
    fn not_a_json_object_is_merged_as_an_empty_one() {
        for doc in [&b"not json"[..], b"[1,2]", b""] {
            let merged = keys().merge(Some(doc));
            assert_eq!(keys().found(&merged), keys().wanted());
            assert_ne!(keys().found(doc), keys().wanted());
        }
    }
}
