//! The CONNECT decision: blacklist, then the datasource's password check, then the client's
//! ACL; with counters of every outcome for `/metrics`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::access::{ClientAcl, Stage};
use super::datasource::{Datasource, Modes, PasswordCheck, SourceConfig, datasource_name};
use super::ledger::Ledger;
use super::{AuthError, Credentials, KeyMode};
use crate::config::AuthConfig;

/// How long one CONNECT may wait for the datasource before it is refused as unavailable.
const DECISION_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a CONNECT is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user or client, or a wrong password: 0x86 (3.x: 0x04).
    BadCredentials,
    /// A known user that is not allowed: 0x87 (3.x: 0x05).
    NotAuthorized,
    /// Refused by a blacklist rule: 0x8A (3.x: 0x05).
    Banned,
    /// The datasource did not answer: 0x88 (3.x: 0x03).
    Unavailable,
}

/// Outcome counters, by [`Outcome`] index.
#[derive(Debug, Default)]
pub struct AuthCounters([AtomicU64; 5]);

/// The outcomes counted, in the order of [`AuthCounters`].
pub const OUTCOMES: [&str; 5] = [
    "allowed",
    "bad_credentials",
    "not_authorized",
    "banned",
    "unavailable",
];

impl AuthCounters {
    fn count(&self, outcome: &Result<Option<ClientAcl>, Refusal>) {
        let i = match outcome {
            Ok(_) => 0,
            Err(Refusal::BadCredentials) => 1,
            Err(Refusal::NotAuthorized) => 2,
            Err(Refusal::Banned) => 3,
            Err(Refusal::Unavailable) => 4,
        };
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// (outcome name, count) pairs.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        OUTCOMES
            .iter()
            .zip(&self.0)
            .map(|(name, c)| (*name, c.load(Ordering::Relaxed)))
            .collect()
    }
}

/// Decides who may connect and gathers each client's ACL.
pub struct Authenticator {
    /// Checked first (`auth.blacklist-path`).
    blacklist: Option<Ledger>,
    /// The datasource and its modes; `None` for `auth.way: 0` (anonymous).
    source: Option<(Datasource, Modes)>,
    /// `file`, `redis`, ... for logs.
    name: &'static str,
    /// Outcomes so far (shared with the authenticator a reload replaces this one by, so the
    /// counters of `/metrics` keep counting up).
    pub counters: std::sync::Arc<AuthCounters>,
}

impl Authenticator {
    /// Reads every file `auth` names and checks it, without connecting anything
    /// (`comqtt config check`).
    pub fn check(auth: &AuthConfig) -> Result<(), AuthError> {
        if !auth.blacklist_path.is_empty() {
            Ledger::load(Path::new(&auth.blacklist_path))?;
        }
        if auth.way != 0 {
            SourceConfig::load(auth.datasource, Path::new(&auth.conf_path), auth.way)?;
        }
        Ok(())
    }

    /// Sets up what `auth` asks for and connects the datasource; `None` when there is nothing
    /// to check (anonymous, no blacklist).
    pub async fn open(auth: &AuthConfig) -> Result<Option<Authenticator>, AuthError> {
        let blacklist = if auth.blacklist_path.is_empty() {
            None
        } else {
            Some(Ledger::load(Path::new(&auth.blacklist_path))?)
        };
        let source = if auth.way == 0 {
            None
        } else {
            let (config, modes) =
                SourceConfig::load(auth.datasource, Path::new(&auth.conf_path), auth.way)?;
            Some((Datasource::open(config).await?, modes))
        };
        if blacklist.is_none() && source.is_none() {
            return Ok(None);
        }
        Ok(Some(Authenticator {
            blacklist,
            source,
            name: if auth.way == 0 {
                "anonymous"
            } else {
                datasource_name(auth.datasource)
            },
            counters: Default::default(),
        }))
    }

    /// An authenticator of a ledger used as the datasource, and optionally a blacklist (tests
    /// and embedders).
    pub fn from_ledgers(datasource: Option<Ledger>, blacklist: Option<Ledger>) -> Authenticator {
        let modes = Modes {
            auth: KeyMode::Username,
            acl: KeyMode::Username,
            hash: Default::default(),
            hash_key: String::new(),
        };
        Authenticator {
            blacklist,
            source: datasource.map(|l| (Datasource::File(l), modes)),
            name: "file",
            counters: Default::default(),
        }
    }

    /// Keeps counting in `previous`'s counters (a reload).
    pub fn continue_counters(&mut self, previous: &Authenticator) {
        self.counters = previous.counters.clone();
    }

    /// Decides a connected client again (a reload): the blacklist, then its ACL; the password
    /// is not asked again. Not counted as a CONNECT outcome.
    pub async fn reassess(&self, c: &Credentials<'_>) -> Result<Option<ClientAcl>, Refusal> {
        match tokio::time::timeout(DECISION_TIMEOUT, self.decide(c, true)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(Refusal::Unavailable),
        }
    }

    /// The datasource's name (`file`, `redis`, `mysql`, `postgresql`, `http`, `anonymous`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Decides a CONNECT. `authenticated` is true when an enhanced authentication method
    /// already proved who the client is (the password check is then skipped). On success:
    /// the client's ACL, or `None` when it may do everything.
    pub async fn connect(
        &self,
        c: &Credentials<'_>,
        authenticated: bool,
    ) -> Result<Option<ClientAcl>, Refusal> {
        let outcome =
            match tokio::time::timeout(DECISION_TIMEOUT, self.decide(c, authenticated)).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!(
                        client_id = c.client_id,
                        datasource = self.name,
                        "auth datasource did not answer in time"
                    );
                    Err(Refusal::Unavailable)
                }
            };
        self.counters.count(&outcome);
        outcome
    }

    async fn decide(
        &self,
        c: &Credentials<'_>,
        authenticated: bool,
    ) -> Result<Option<ClientAcl>, Refusal> {
        let unavailable = |e: AuthError| {
            tracing::warn!(client_id = c.client_id, error = %e, "auth datasource failed");
            Refusal::Unavailable
        };
        let verdict = self.blacklist.as_ref().and_then(|l| l.blacklist_verdict(c));
        if verdict == Some(false) {
            return Err(Refusal::Banned);
        }
        let mut stages = self
            .blacklist
            .as_ref()
            .map(|l| l.acl_stages(c))
            .unwrap_or_default();
        let Some((source, modes)) = &self.source else {
            return Ok(acl(stages, true));
        };
        if verdict.is_none() && !authenticated {
            let check = match (source, modes.auth.key(c)) {
                _ if modes.auth == KeyMode::Anyone => PasswordCheck::Accepted,
                // A ledger's rules name client ids, user names and addresses themselves.
                (Datasource::File(ledger), _) => ledger.password_check(c),
                (_, None) => PasswordCheck::Wrong,
                (source, Some(key)) => source
                    .check_password(key, c, modes)
                    .await
                    .map_err(unavailable)?,
            };
            match check {
                PasswordCheck::Accepted => {}
                PasswordCheck::Wrong => return Err(Refusal::BadCredentials),
                PasswordCheck::Disallowed => return Err(Refusal::NotAuthorized),
            }
        }
        if let Datasource::File(ledger) = source {
            stages.extend(ledger.acl_stages(c));
            return Ok(acl(stages, true));
        }
        if modes.acl == KeyMode::Anyone {
            return Ok(acl(stages, true));
        }
        let rules = match modes.acl.key(c) {
            Some(key) => source.rules(key, c).await.map_err(unavailable)?,
            None => Vec::new(),
        };
        stages.push(Stage::Rules(rules));
        Ok(acl(stages, false))
    }
}

fn acl(stages: Vec<Stage>, default_allow: bool) -> Option<ClientAcl> {
    let acl = ClientAcl::new(stages, default_allow);
    (!acl.allows_everything()).then_some(acl)
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("datasource", &self.name)
            .field("blacklist", &self.blacklist.is_some())
            .finish()
    }
}
