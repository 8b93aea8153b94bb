//! `GET /api/v1/mqtt/topics`: the subscription tree as nested JSON, one object per topic
//! level: `{"sensors": {"subscribers": 0, "children": {"+": {"subscribers": 2, ...}}}}`.
//! Shared subscriptions appear under their `$share/{group}` prefix.

use axum::Json;
use axum::extract::State;
use serde_json::{Map, Value};

use super::ApiState;

/// Builds the nested tree from `(filter, subscribers)` pairs.
pub fn tree(filters: &[(String, usize)]) -> Value {
    let mut root = Map::new();
    for (filter, count) in filters {
        let mut level = &mut root;
        let parts: Vec<&str> = filter.split('/').collect();
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
}
