//! The `rules:` block of `bridge-kafka.yml`: which events are bridged. `topics` are topic
//! filters a publish's topic must match; `filters` are topic filters that must cover a
//! subscribe's or unsubscribe's filter. An empty list lets everything through. Matching is
//! MQTT's own ([`crate::mqtt::topic`]): unlike the original's `plugin.MatchTopic`, `a/b` does
//! not match `a/b/c`.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::mqtt::topic::{self, covers, matches, valid_topic_filter};

/// What `rules.topics` and `rules.filters` allow.
const ALLOWED: &str = "MQTT topic filters ('+' a whole level, '#' alone as the last level)";

/// The `rules:` block.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rules {
    /// Publish events are bridged when their topic matches one of these (empty: all).
    pub topics: Vec<String>,
    /// Subscribe and unsubscribe events are bridged for the filters one of these covers
    /// (empty: all).
    pub filters: Vec<String>,
}

impl Rules {
    /// Every entry must be a valid topic filter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, list) in [
            ("rules.topics", &self.topics),
            ("rules.filters", &self.filters),
        ] {
            if let Some(bad) = list.iter().find(|f| !valid_topic_filter(f)) {
                return Err(ConfigError::Invalid {
                    key,
                    value: format!("{bad:?}"),
                    allowed: ALLOWED,
                });
            }
        }
        Ok(())
    }

    /// Whether a publish to `topic` is bridged.
    pub fn allows_topic(&self, topic: &str) -> bool {
        self.topics.is_empty() || self.topics.iter().any(|f| matches(f, topic))
    }

    /// Whether a subscription to `filter` (or its end) is bridged. A shared subscription
    /// `$share/{group}/{filter}` is judged by its filter.
    pub fn allows_filter(&self, filter: &str) -> bool {
        if self.filters.is_empty() {
            return true;
        }
        let inner = match topic::parse_shared(filter) {
            Ok(Some(shared)) => shared.filter,
            _ => filter,
        };
        self.filters.iter().any(|rule| covers(rule, inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(topics: &[&str], filters: &[&str]) -> Rules {
        Rules {
            topics: topics.iter().map(|s| s.to_string()).collect(),
            filters: filters.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn empty_lists_allow_everything() {
        let r = Rules::default();
        assert!(r.allows_topic("any/topic") && r.allows_topic("$SYS/x"));
        assert!(r.allows_filter("#") && r.allows_filter("a/+"));
    }

    #[test]
    fn publish_topics_are_matched_as_mqtt_does_without_prefix_leniency() {
        let r = rules(&["testtopic/3", "sensors/+/temp", "alarms/#"], &[]);
        assert!(r.allows_topic("testtopic/3"));
        assert!(
            !r.allows_topic("testtopic/3/x"),
            "the original's prefix bug"
        );
        assert!(!r.allows_topic("testtopic/31"));
        assert!(!r.allows_topic("testtopic"));
        assert!(r.allows_topic("sensors/k1/temp"));
        assert!(!r.allows_topic("sensors/k1/hum"));
        assert!(r.allows_topic("alarms") && r.allows_topic("alarms/fire/1"));
    }

    #[test]
    fn subscription_filters_must_be_covered_by_a_rule() {
        let r = rules(&[], &["testtopic/31", "home/#", "plant/+/state"]);
        assert!(r.allows_filter("testtopic/31"));
        assert!(!r.allows_filter("testtopic/31/a"));
        assert!(r.allows_filter("home/+/light") && r.allows_filter("home/#"));
        assert!(r.allows_filter("plant/+/state") && r.allows_filter("plant/p1/state"));
        assert!(!r.allows_filter("plant/#"), "wider than the rule");
        assert!(
            r.allows_filter("$share/g1/home/kitchen"),
            "judged by its filter"
        );
        assert!(!r.allows_filter("$share/g1/office"));
    }

    #[test]
    fn invalid_filters_name_the_key_and_what_is_allowed() {
        for (r, key) in [
            (rules(&["a/#/b"], &[]), "rules.topics"),
            (rules(&[], &["a+"]), "rules.filters"),
            (rules(&[""], &[]), "rules.topics"),
        ] {
            let err = r.validate().unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("topic filters"), "{err}");
        }
        assert!(rules(&["a/+", "#"], &["$SYS/#"]).validate().is_ok());
    }
}
