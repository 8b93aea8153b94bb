//! The rule file of the original (mochi-mqtt's auth ledger), in YAML or JSON: used as the
//! blacklist (`auth.blacklist-path`, checked before any datasource) and as the `file`
//! datasource (`auth.datasource: 0`).
//!
//! ```yaml
//! users:                       # checked first: user name + password
//!   alice: { password: s3cret, acl: { "alice/#": 3 }, disallow: false }
//! auth:                        # then these, top to bottom; the first match decides
//!   - { client: "sensor-*", remote: "10.0.0.*", allow: true }
//!   - { username: mallory, allow: false }
//! acl:                         # top to bottom; a matching rule without filters allows all
//!   - { remote: "127.0.0.1:*" }
//!   - { username: dashboard, filters: { "$SYS/#": 1 } }
//! ```
//!
//! A rule value matches when it is empty or `*`, equal to the value, or a prefix ending in `*`
//! (`10.0.0.*`). Rule values name the client id, user name, remote address (`ip:port`) and,
//! in `auth` rules used as a datasource, the password.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::access::{Access, Rules, Stage};
use super::datasource::PasswordCheck;
use super::{AuthError, Credentials};

/// A rule value: empty or `*` matches anything, `prefix*` a prefix, anything else itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    /// True if `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        let p = self.0.as_str();
        if p.is_empty() || p == "*" || p == value {
            return true;
        }
        match p.find('*') {
            Some(i) if i > 0 => value.len() > i && value.as_bytes()[..i] == p.as_bytes()[..i],
            _ => false,
        }
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `username:` with no value (YAML null) is the empty pattern, as in the original.
        Ok(Pattern(
            Option::<String>::deserialize(d)?.unwrap_or_default(),
        ))
    }
}

/// Filter → access map of a rule, in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters(Rules);

impl<'de> Deserialize<'de> for Filters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<indexmap_like::OrderedMap>::deserialize(d)?.unwrap_or_default();
        let mut rules = Vec::with_capacity(map.0.len());
        for (filter, code) in map.0 {
            let access = Access::from_code(code).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "access {code} of filter {filter:?} is not 0 (deny), 1 (read), 2 (write) or 3 (read and write)"
                ))
            })?;
            rules.push((filter, access));
        }
        Ok(Filters(rules))
    }
}

/// A YAML/JSON map read in file order.
mod indexmap_like {
    use serde::Deserialize;
    use serde::de::{MapAccess, Visitor};

    #[derive(Default)]
    pub struct OrderedMap(pub Vec<(String, i64)>);

    impl<'de> Deserialize<'de> for OrderedMap {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OrderedMap;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a map of topic filter to access 0..3")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<OrderedMap, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, i64>()? {
                        out.push((k, v));
                    }
                    Ok(OrderedMap(out))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// A predefined user of the `users:` map.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UserRule {
    /// The user name (the map key is what is matched; this is informational).
    pub username: Pattern,
    /// The password.
    pub password: Pattern,
    /// The user's own filters, checked before the `acl:` rules.
    pub acl: Filters,
    /// Refuses the user.
    pub disallow: bool,
}

/// One `auth:` rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthRule {
    pub client: Pattern,
    pub username: Pattern,
    pub remote: Pattern,
    /// Checked only when the ledger is the datasource (the blacklist ignores passwords).
    pub password: Pattern,
    /// What a match decides.
    pub allow: bool,
}

/// One `acl:` rule.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AclRule {
    pub client: Pattern,
    pub username: Pattern,
    pub remote: Pattern,
    /// Filter → access; none allows everything.
    pub filters: Filters,
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Ledger {
    /// Predefined users by name.
    pub users: std::collections::BTreeMap<String, UserRule>,
    /// Connection rules, top to bottom.
    pub auth: Vec<AuthRule>,
    /// ACL rules, top to bottom.
    pub acl: Vec<AclRule>,
}

fn identity_matches(
    client: &Pattern,
    username: &Pattern,
    remote: &Pattern,
    c: &Credentials,
) -> bool {
    client.matches(c.client_id)
        && username.matches(c.username.unwrap_or(""))
        && remote.matches(c.remote)
}

impl Ledger {
    /// Reads a ledger file (JSON if it starts with `{`, else YAML).
    pub fn load(path: &Path) -> Result<Ledger, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ledger::parse(&text, path)
    }

    /// Parses ledger text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Ledger, AuthError> {
        let bad = |message: String| AuthError::Config {
            path: PathBuf::from(path),
            message,
        };
        if text.trim().is_empty() {
            return Ok(Ledger::default());
        }
        if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))
        } else {
            yaml_serde::from_str(text).map_err(|e| bad(e.to_string()))
        }
    }

    /// As the blacklist: the first `auth:` rule matching the client's id, user name and
    /// remote address decides (`Some(allow)`); `None` when no rule matches.
    pub fn blacklist_verdict(&self, c: &Credentials) -> Option<bool> {
        self.auth
            .iter()
            .find(|r| identity_matches(&r.client, &r.username, &r.remote, c))
            .map(|r| r.allow)
    }

    /// As the datasource: a predefined user with this password, else the first `auth:` rule
    /// that matches (password included) decides; no match refuses.
    pub fn datasource_verdict(&self, c: &Credentials) -> bool {
        let password = c.password.unwrap_or_default();
        if let Some(u) = c.username.and_then(|name| self.users.get(name))
            && !u.password.0.is_empty()
            && u.password.0.as_bytes() == password
        {
            return !u.disallow;
        }
        let password = String::from_utf8_lossy(password);
        self.auth
            .iter()
            .find(|r| {
                identity_matches(&r.client, &r.username, &r.remote, c)
                    && r.password.matches(&password)
            })
            .is_some_and(|r| r.allow)
    }

    /// [`Ledger::datasource_verdict`] as a password check.
    pub fn password_check(&self, c: &Credentials) -> PasswordCheck {
        if self.datasource_verdict(c) {
            PasswordCheck::Accepted
        } else {
            PasswordCheck::Wrong
        }
    }

    /// The ACL stages this file contributes for one client: its user's filters, then each
    /// matching `acl:` rule in order.
    pub fn acl_stages(&self, c: &Credentials) -> Vec<Stage> {
        let mut stages = Vec::new();
        if let Some(u) = c.username.and_then(|name| self.users.get(name))
            && !u.acl.0.is_empty()
        {
            stages.push(Stage::Rules(u.acl.0.clone()));
        }
        for rule in &self.acl {
            if identity_matches(&rule.client, &rule.username, &rule.remote, c) {
                if rule.filters.0.is_empty() {
                    stages.push(Stage::AllowAll);
                    break;
                }
                stages.push(Stage::Rules(rule.filters.0.clone()));
            }
        }
        stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::access::ClientAcl;

    fn creds<'a>(
        client_id: &'a str,
        username: Option<&'a str>,
        remote: &'a str,
    ) -> Credentials<'a> {
        Credentials {
            client_id,
            username,
            password: None,
            remote,
        }
    }

    #[test]
    fn patterns_match_like_the_original() {
        let p = |s: &str| Pattern(s.to_string());
        assert!(p("").matches("x") && p("*").matches("x") && p("x").matches("x"));
        assert!(p("127.0.0.1:*").matches("127.0.0.1:5000"));
        assert!(!p("127.0.0.1:*").matches("127.0.0.10:5000"));
        assert!(
            !p("127.0.0.1:*").matches("127.0.0.1:"),
            "the original needs something after the prefix"
        );
        assert!(!p("*x").matches("ax"), "a leading * is not a suffix match");
    }

    #[test]
    fn the_original_blacklist_sample_parses_and_decides() {
        let text = r#"auth:
    - client: comqtt_7e8af7a4
      allow: false
    - remote: 116.205.234.66:*
      allow: false
    - remote: 127.0.0.1:*
      allow: true
acl:
    # 0 = deny, 1 = read only, 2 = write only, 3 = read and write
    - remote: 127.0.0.1:*
    - username: dashboard
      filters:
        $SYS/#: 1
    - username:
      filters:
        $SYS/#: 0
        '#': 0
"#;
        let l = Ledger::parse(text, Path::new("blacklist.yml")).unwrap();
        assert_eq!(
            l.blacklist_verdict(&creds("comqtt_7e8af7a4", None, "127.0.0.1:1")),
            Some(false)
        );
        assert_eq!(
            l.blacklist_verdict(&creds("a", None, "127.0.0.1:1")),
            Some(true)
        );
        assert_eq!(l.blacklist_verdict(&creds("a", None, "10.1.1.1:1")), None);
        let local = ClientAcl::new(l.acl_stages(&creds("a", None, "127.0.0.1:9")), false);
        assert!(local.allows_everything());
        let dash = ClientAcl::new(
            l.acl_stages(&creds("a", Some("dashboard"), "10.0.0.1:9")),
            true,
        );
        assert!(dash.may_subscribe("$SYS/#"));
        assert!(
            !dash.may_publish("a/b"),
            "the catch-all rule denies the rest"
        );
    }

    #[test]
    fn as_a_datasource_users_then_rules_decide() {
        let text = "users:\n  alice:\n    password: pw\n    acl:\n      'alice/#': 3\n  eve:\n    password: pw\n    disallow: true\nauth:\n  - client: 'dev-*'\n    password: devpw\n    allow: true\n";
        let l = Ledger::parse(text, Path::new("users.yml")).unwrap();
        let with = |id, user, pw: &'static [u8]| Credentials {
            client_id: id,
            username: user,
            password: Some(pw),
            remote: "1.2.3.4:5",
        };
        assert!(l.datasource_verdict(&with("x", Some("alice"), b"pw")));
        assert!(!l.datasource_verdict(&with("x", Some("alice"), b"nope")));
        assert!(!l.datasource_verdict(&with("x", Some("eve"), b"pw")));
        assert!(l.datasource_verdict(&with("dev-1", None, b"devpw")));
        assert!(!l.datasource_verdict(&with("dev-1", None, b"x")));
        let acl = ClientAcl::new(l.acl_stages(&with("x", Some("alice"), b"pw")), true);
        assert!(
            acl.may_publish("alice/a") && acl.may_publish("other"),
            "ledger ACLs default to allow"
        );
    }

    #[test]
    fn bad_access_values_are_errors_naming_the_filter() {
        let err = Ledger::parse("acl:\n  - filters:\n      'a/#': 7\n", Path::new("b.yml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("b.yml") && err.contains("a/#") && err.contains("0 (deny)"),
            "{err}"
        );
        let err = Ledger::parse("acl:\n  - filtres: {}\n", Path::new("b.yml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("filtres"), "{err}");
    }
}
