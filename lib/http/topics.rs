//! `GET /api/v1/mqtt/topics`: the subscription tree as nested JSON, one object per topic
//! level: `{"sensors": {"subscribers": 0, "children": {"+": {"subscribers": 2, ...}}}}`.
//! Shared subscriptions appear under their `$share/{group}` prefix. Nesting stops at
//! [`MAX_NESTING`] levels: deeper filters keep the rest of their levels in one key
//! (`"a/b/c/..."`), so the document stays within what JSON parsers accept (serde_json's
//! default limit is 128 nested values).

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};

use super::ApiState;

/// Topic levels nested as objects; the levels below stay together in the last key.
pub const MAX_NESTING: usize = 32;

/// Builds the nested tree from `(filter, subscribers)` pairs.
pub fn tree(filters: &[(String, usize)]) -> Value {
    let mut root = Map::new();
    for (filter, count) in filters {
        let mut level = &mut root;
        // The last part keeps the rest of the levels, slashes included (no level holds one).
        let parts: Vec<&str> = filter.splitn(MAX_NESTING, '/').collect();
        for (i, part) in parts.iter().enumerate() {
            let node = level
                .entry(part.to_string())
                .or_insert_with(|| serde_json::json!({ "subscribers": 0, "children": {} }));
            if i + 1 == parts.len() {
                node["subscribers"] =
                    Value::from(node["subscribers"].as_u64().unwrap_or(0) + *count as u64);
            }
            level = match node.get_mut("children").and_then(Value::as_object_mut) {
                Some(children) => children,
                None => break,
            };
        }
    }
    Value::Object(root)
}

/// `GET /api/v1/mqtt/topics`.
pub async fn list(State(api): State<ApiState>) -> Json<Value> {
    Json(tree(&api.broker.subscription_summary()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_nest_by_level_with_their_subscriber_counts() {
        let t = tree(&[("a/+/c".into(), 2), ("a/b".into(), 1), ("#".into(), 3)]);
        assert_eq!(t["a"]["subscribers"], 0);
        assert_eq!(t["a"]["children"]["b"]["subscribers"], 1);
        assert_eq!(t["a"]["children"]["+"]["children"]["c"]["subscribers"], 2);
        assert_eq!(t["#"]["subscribers"], 3);
    }

    #[test]
    fn deep_filters_stop_nesting() {
        let deep = vec!["a"; 10_000].join("/");
        let t = tree(&[(deep, 1)]);
        let mut node = &t;
        for _ in 0..MAX_NESTING - 1 {
            node = &node["a"]["children"];
        }
        let rest = vec!["a"; 10_000 - (MAX_NESTING - 1)].join("/");
        assert_eq!(node[&rest]["subscribers"], 1);
        let text = serde_json::to_string(&t).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, t);
    }
}
