//! ACL decisions: what one connected client may publish to (write) and subscribe to (read).
//!
//! A client's rules are gathered once, at CONNECT, into a [`ClientAcl`]: an ordered list of
//! stages (the blacklist's matching rules, then the datasource's rules) and a default. Each
//! check walks the stages in order; the first stage with an opinion decides. Within a stage the
//! most specific rule wins: among the filters that match, the longest one (the original's
//! "longest filter wins"; at equal length the one with fewer wildcards), so `a/#: 3` with
//! `a/secret: 0` denies `a/secret` only.

use crate::mqtt::topic::{covers, matches};

/// What a rule grants on the topics its filter matches (the original's 0..3 encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Neither publish nor subscribe.
    Deny = 0,
    /// Subscribe (receive) only.
    Read = 1,
    /// Publish only.
    Write = 2,
    /// Both.
    ReadWrite = 3,
}

impl Access {
    /// The access encoded as the original stores it (0..3); `None` for anything else.
    pub fn from_code(code: i64) -> Option<Access> {
        Some(match code {
            0 => Access::Deny,
            1 => Access::Read,
            2 => Access::Write,
            3 => Access::ReadWrite,
            _ => return None,
        })
    }

    /// True if this grants `wanted` (which is `Read` or `Write`).
    pub fn permits(self, wanted: Access) -> bool {
        (self as u8) & (wanted as u8) == wanted as u8 && wanted != Access::Deny
    }
}

/// Topic filter → access rules of one source (a datasource's rows, one blacklist rule).
pub type Rules = Vec<(String, Access)>;

/// One step of a client's ACL.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Allows everything (a blacklist rule that matches the client and names no filters).
    AllowAll,
    /// The most specific matching rule decides; no matching rule: the next stage decides.
    Rules(Rules),
}

/// Everything one client may do, decided at CONNECT.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientAcl {
    /// Checked in order; the first with an opinion decides.
    stages: Vec<Stage>,
    /// The answer when no stage has one.
    default_allow: bool,
}

impl ClientAcl {
    /// An ACL of `stages`, falling back to `default_allow`.
    pub fn new(stages: Vec<Stage>, default_allow: bool) -> ClientAcl {
        ClientAcl {
            stages,
            default_allow,
        }
    }

    /// True if this ACL allows everything, so the broker need not check at all.
    pub fn allows_everything(&self) -> bool {
        match self.stages.first() {
            None => self.default_allow,
            Some(Stage::AllowAll) => true,
            Some(Stage::Rules(_)) => false,
        }
    }

    /// May the client publish to the topic name `topic`?
    pub fn may_publish(&self, topic: &str) -> bool {
        self.decide(Access::Write, |filter| matches(filter, topic))
    }

    /// May the client receive a message published to `topic`?
    pub fn may_receive(&self, topic: &str) -> bool {
        self.decide(Access::Read, |filter| matches(filter, topic))
    }

    /// May the client subscribe to the topic filter `filter` (the filter inside a
    /// `$share/group/` prefix)? A rule decides if it covers every topic the filter matches;
    /// a narrower deny inside it is still applied per message by [`ClientAcl::may_receive`].
    pub fn may_subscribe(&self, filter: &str) -> bool {
        self.decide(Access::Read, |rule| covers(rule, filter))
    }

    fn decide(&self, wanted: Access, applies: impl Fn(&str) -> bool) -> bool {
        for stage in &self.stages {
            match stage {
                Stage::AllowAll => return true,
                Stage::Rules(rules) => {
                    let best = rules
                        .iter()
                        .filter(|(filter, _)| applies(filter))
                        .max_by_key(|(filter, _)| specificity(filter));
                    if let Some((_, access)) = best {
                        return access.permits(wanted);
                    }
                }
            }
        }
        self.default_allow
    }
}

/// How specific a filter is: longer first; at equal length, `+` beats `#` and no wildcard
/// beats both (`topictest/1` over `topictest/#`).
fn specificity(filter: &str) -> (usize, u8) {
    let rank = if filter.contains('#') {
        0
    } else if filter.contains('+') {
        1
    } else {
        2
    };
    (filter.len(), rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[(&str, Access)]) -> Stage {
        Stage::Rules(list.iter().map(|(f, a)| (f.to_string(), *a)).collect())
    }

    #[test]
    fn access_codes_grant_what_the_original_says() {
        use Access::*;
        assert!(!Deny.permits(Read) && !Deny.permits(Write));
        assert!(Read.permits(Read) && !Read.permits(Write));
        assert!(!Write.permits(Read) && Write.permits(Write));
        assert!(ReadWrite.permits(Read) && ReadWrite.permits(Write));
        assert_eq!(Access::from_code(4), None);
    }

    #[test]
    fn the_longest_matching_filter_wins() {
        let acl = ClientAcl::new(
            vec![rules(&[
                ("a/#", Access::ReadWrite),
                ("a/secret", Access::Deny),
                ("a/+/log", Access::Read),
            ])],
            false,
        );
        assert!(acl.may_publish("a/b"));
        assert!(!acl.may_publish("a/secret") && !acl.may_receive("a/secret"));
        assert!(acl.may_receive("a/x/log") && !acl.may_publish("a/x/log"));
        assert!(!acl.may_publish("b"), "no rule: the default (deny)");
        let tie = ClientAcl::new(
            vec![rules(&[
                ("t/1", Access::Write),
                ("t/#", Access::Read),
                ("t/+", Access::Deny),
            ])],
            false,
        );
        assert!(
            tie.may_publish("t/1") && !tie.may_receive("t/1"),
            "exact beats wildcards of its length"
        );
        assert!(
            !tie.may_publish("t/2") && !tie.may_receive("t/2"),
            "+ beats # at equal length"
        );
    }

    #[test]
    fn subscribe_needs_a_rule_covering_the_whole_filter() {
        let acl = ClientAcl::new(vec![rules(&[("a/b", Access::Read)])], false);
        assert!(acl.may_subscribe("a/b"));
        assert!(!acl.may_subscribe("a/+"), "a/+ reaches beyond a/b");
        let acl = ClientAcl::new(vec![rules(&[("a/#", Access::Read)])], false);
        assert!(acl.may_subscribe("a/+/c") && !acl.may_subscribe("#"));
    }

    #[test]
    fn stages_in_order_first_opinion_decides() {
        let acl = ClientAcl::new(
            vec![
                rules(&[("$SYS/#", Access::Read)]),
                rules(&[("#", Access::ReadWrite), ("$SYS/#", Access::Deny)]),
            ],
            false,
        );
        assert!(
            acl.may_receive("$SYS/broker/uptime"),
            "the first stage decides"
        );
        assert!(!acl.may_publish("$SYS/x"));
        assert!(acl.may_publish("a"));
        let open = ClientAcl::new(vec![Stage::AllowAll, rules(&[("#", Access::Deny)])], false);
        assert!(open.may_publish("a") && open.allows_everything());
        assert!(ClientAcl::new(vec![], true).allows_everything());
        assert!(!ClientAcl::new(vec![], false).allows_everything());
    }
}
