//! Topic names and topic filters (spec 4.7): validation, matching, and shared-subscription
//! filters `$share/{group}/{filter}` (spec 4.8.2).

/// True if `name` may be the topic of a PUBLISH: at least one character `[MQTT-4.7.3-1]` and
/// no wildcard characters `[MQTT-3.3.2-2]`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty() && !name.bytes().any(|b| b == b'+' || b == b'#')
}

/// True if `filter` is a valid topic filter: not empty `[MQTT-4.7.3-1]`, `#` only alone as the
/// last level `[MQTT-4.7.1-1]`, `+` only alone in its level `[MQTT-4.7.1-2]`.
pub fn valid_topic_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        if level.contains('#') && (level != "#" || !is_last) {
            return false;
        }
        if level.contains('+') && level != "+" {
            return false;
        }
    }
    true
}

/// True if the topic name `topic` matches `filter`. Wildcards at the first level do not match
/// topics that start with `$` `[MQTT-4.7.2-1]`; `#` also matches the parent level (`a/#`
/// matches `a`).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True if every topic name that `inner` matches is also matched by `outer`: the filter
/// `outer` covers the filter `inner`. For an `inner` without wildcards this is
/// [`matches`]`(outer, inner)`. A `+` in `outer` covers one level of `inner` (a name or `+`),
/// a `#` covers whatever follows (and the parent level, as in matching); a wildcard of `inner`
/// is covered only by a wildcard at least as wide. Leading wildcards do not cover filters that
/// start with `$` `[MQTT-4.7.2-1]`.
pub fn covers(outer: &str, inner: &str) -> bool {
    if inner.starts_with('$') && (outer.starts_with('+') || outer.starts_with('#')) {
        return false;
    }
    let mut o = outer.split('/');
    let mut i = inner.split('/');
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(ol), Some(il)) if ol == il => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A shared subscription filter split into its share name and its topic filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name: which group of subscribers shares the messages.
    pub group: &'a str,
    /// The topic filter the group subscribes to.
    pub filter: &'a str,
}

/// The prefix that marks a shared subscription.
pub const SHARE_PREFIX: &str = "$share/";

/// Why a `$share/...` filter is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SharedFilterError {
    /// The share name is empty or holds `+`, `#` or `/` `[MQTT-4.8.2-1]`.
    #[error("share name is empty or holds a wildcard")]
    ShareName,
    /// There is no topic filter after the share name `[MQTT-4.8.2-2]`, or it is invalid.
    #[error("shared subscription has no valid topic filter")]
    Filter,
}

/// Splits `$share/group/filter`; `Ok(None)` for a filter that is not shared.
pub fn parse_shared(filter: &str) -> Result<Option<SharedFilter<'_>>, SharedFilterError> {
    let Some(rest) = filter.strip_prefix(SHARE_PREFIX) else {
        return Ok(None);
    };
    let (group, inner) = rest.split_once('/').ok_or(SharedFilterError::Filter)?;
    if group.is_empty() || group.contains(['+', '#']) {
        return Err(SharedFilterError::ShareName);
    }
    if !valid_topic_filter(inner) {
        return Err(SharedFilterError::Filter);
    }
    Ok(Some(SharedFilter {
        group,
        filter: inner,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_only_what_it_matches() {
        for (outer, inner, covered) in [
            ("#", "a/b", true),
            ("#", "a/#", true),
            ("a/#", "a", true),
            ("a/#", "a/+/c", true),
            ("a/+", "a/b", true),
            ("a/+", "a/+", true),
            ("a/+", "a/#", false),
            ("a/b", "a/+", false),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
            ("+/b", "$SYS/b", false),
            ("#", "$SYS/#", false),
            ("$SYS/#", "$SYS/broker/+", true),
        ] {
            assert_eq!(covers(outer, inner), covered, "{outer} covers {inner}");
        }
    }

    #[test]
    fn multi_level_wildcard_matches_parent_and_children_mqtt_4_7_1_1() {
        assert!(matches("sport/tennis/player1/#", "sport/tennis/player1"));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/ranking"
        ));
        assert!(matches(
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon"
        ));
        assert!(matches("sport/#", "sport"));
        assert!(matches("#", "a/b/c"));
        assert!(!valid_topic_filter("sport/tennis#"));
        assert!(!valid_topic_filter("sport/tennis/#/ranking"));
    }

    #[test]
    fn single_level_wildcard_matches_one_level_mqtt_4_7_1_2() {
        assert!(matches("sport/tennis/+", "sport/tennis/player1"));
        assert!(!matches("sport/tennis/+", "sport/tennis/player1/ranking"));
        assert!(!matches("sport/+", "sport"));
        assert!(matches("sport/+", "sport/"));
        assert!(matches("+/+", "/finance"));
        assert!(matches("/+", "/finance"));
        assert!(!matches("+", "/finance"));
        assert!(valid_topic_filter("+"));
        assert!(valid_topic_filter("+/tennis/#"));
        assert!(!valid_topic_filter("sport+"));
    }

    #[test]
    fn dollar_topics_not_matched_by_leading_wildcards_mqtt_4_7_2_1() {
        assert!(!matches("#", "$SYS/broker/uptime"));
        assert!(!matches("+/monitor/Clients", "$SYS/monitor/Clients"));
        assert!(matches("$SYS/#", "$SYS/broker/uptime"));
        assert!(matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
    }

    #[test]
    fn topic_names_are_case_sensitive_and_may_have_spaces() {
        assert!(!matches("ACCOUNTS", "Accounts"));
        assert!(matches("Accounts payable", "Accounts payable"));
        assert!(valid_topic_name("/"));
        assert!(!valid_topic_name(""));
        assert!(!valid_topic_name("a/+"));
        assert!(!valid_topic_name("a/#"));
    }

    #[test]
    fn a_filter_covers_the_filters_whose_topics_it_matches() {
        // Without wildcards in the inner filter, covering is matching.
        assert!(covers("a/+", "a/b"));
        assert!(covers("a/#", "a"));
        assert!(!covers("a/b", "a/b/c"), "no prefix matching");
        assert!(!covers("a/b/c", "a/b"));
        // Wildcards of the inner filter need a wildcard at least as wide.
        assert!(covers("a/#", "a/+/c"));
        assert!(covers("a/+", "a/+"));
        assert!(covers("#", "a/#"));
        assert!(covers("a/#", "a/b/#"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(!covers("a/+/c", "a/#"));
        assert!(!covers("+", "+/+"));
        // [MQTT-4.7.2-1]
        assert!(!covers("#", "$SYS/#"));
        assert!(!covers("+/broker", "$SYS/broker"));
        assert!(covers("$SYS/#", "$SYS/broker/+"));
    }

    #[test]
    fn shared_filters_parse_mqtt_4_8_2() {
        assert_eq!(parse_shared("a/b"), Ok(None));
        assert_eq!(
            parse_shared("$share/g1/a/+/c"),
            Ok(Some(SharedFilter {
                group: "g1",
                filter: "a/+/c"
            }))
        );
        assert_eq!(parse_shared("$share/g1/#").unwrap().unwrap().filter, "#");
        assert_eq!(parse_shared("$share//a"), Err(SharedFilterError::ShareName));
        assert_eq!(
            parse_shared("$share/g+/a"),
            Err(SharedFilterError::ShareName)
        );
        assert_eq!(parse_shared("$share/g1"), Err(SharedFilterError::Filter));
        assert_eq!(parse_shared("$share/g1/"), Err(SharedFilterError::Filter));
    }
}
