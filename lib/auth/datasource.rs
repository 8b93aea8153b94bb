//! The datasources of `auth.datasource` (0 file, 1 redis, 2 mysql, 3 postgresql, 4 http):
//! loading each one's file, and the two questions every one answers: "is this password right
//! for this key?" and "what are this key's ACL rules?".

use std::path::{Path, PathBuf};

use super::access::Rules;
use super::http::HttpSource;
use super::ledger::Ledger;
use super::password::PasswordHash;
use super::redis::RedisSource;
use super::sql::SqlSource;
use super::{AuthError, Credentials, KeyMode};
pub(crate) use crate::config::nullable;

/// A user as a datasource stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The stored password (plain or hashed, per the file's `password-hash`).
    pub password: String,
    /// False refuses the user (CONNACK 0x87).
    pub allow: bool,
}

/// What a password check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password is right and the user allowed.
    Accepted,
    /// Unknown key or wrong password (CONNACK 0x86).
    Wrong,
    /// The user exists but is not allowed (CONNACK 0x87).
    Disallowed,
}

/// A file's key modes and password hashing, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modes {
    /// What identifies a client for the password check.
    pub auth: KeyMode,
    /// What identifies a client for its ACL rules.
    pub acl: KeyMode,
    /// How passwords are stored.
    pub hash: PasswordHash,
    /// The HMAC key.
    pub hash_key: String,
}

impl Modes {
    /// Checks a file's `auth-mode`, `acl-mode`, `password-hash` and `hash-key`. Modes left
    /// out default to the top-level `auth.way` (the ACL mode to the auth mode).
    pub fn resolve(
        path: &Path,
        way: u8,
        auth_mode: Option<u8>,
        acl_mode: Option<u8>,
        password_hash: u8,
        hash_key: &str,
    ) -> Result<Modes, AuthError> {
        let bad = |message: String| AuthError::Config {
            path: path.to_path_buf(),
            message,
        };
        let mode = |key: &str, code: u8| {
            KeyMode::from_code(code).ok_or_else(|| {
                bad(format!(
                    "{key}: {code} is not allowed (0 anonymous, 1 username, 2 client id)"
                ))
            })
        };
        let auth = mode("auth-mode", auth_mode.unwrap_or(way))?;
        let acl = mode("acl-mode", acl_mode.or(auth_mode).unwrap_or(way))?;
        let hash = PasswordHash::from_code(password_hash).ok_or_else(|| {
            bad(format!(
                "password-hash: {password_hash} is not allowed (0 plain, 1 bcrypt, 2 md5, 3 sha1, 4 sha256, 5 sha512, 6 hmac-sha1, 7 hmac-sha256, 8 hmac-sha512)"
            ))
        })?;
        if hash.is_keyed() && hash_key.is_empty() {
            return Err(bad(format!(
                "password-hash: {password_hash} (HMAC) needs a hash-key"
            )));
        }
        Ok(Modes {
            auth,
            acl,
            hash,
            hash_key: hash_key.to_string(),
        })
    }
}

/// Reads and parses a datasource's YAML file; errors name the file (and the parser's line).
pub(crate) fn parse_file<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    yaml_serde::from_str(&text).map_err(|e| AuthError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The datasource code names, for messages.
pub fn datasource_name(code: u8) -> &'static str {
    match code {
        0 => "file",
        1 => "redis",
        2 => "mysql",
        3 => "postgresql",
        4 => "http",
        _ => "unknown",
    }
}

/// A datasource's settings, read and checked but not connected (`comqtt config check`).
pub enum SourceConfig {
    /// A ledger file.
    File(Ledger),
    /// `auth-redis.yml`.
    Redis(super::redis::RedisAuthConfig),
    /// `auth-mysql.yml` / `auth-postgresql.yml`.
    Sql(Box<super::sql::SqlAuthConfig>),
    /// `auth-http.yml`.
    Http(super::http::HttpAuthConfig),
}

impl SourceConfig {
    /// Which datasource a file is for, judged by its top-level keys (`comqtt config check`
    /// takes any file of `config/`): `Some(code)` for an auth datasource or rule file, `None`
    /// for anything else (a broker config).
    pub fn detect(path: &Path) -> Option<u8> {
        let text = std::fs::read_to_string(path).ok()?;
        let yaml_serde::Value::Mapping(m) =
            yaml_serde::from_str::<yaml_serde::Value>(&text).ok()?
        else {
            return None;
        };
        let has = |k: &str| m.contains_key(k);
        let list = |k: &str| m.get(k).is_some_and(|v| v.is_sequence());
        if has("dsn") {
            let postgres = m.get("dsn").and_then(|d| d.get("sslmode")).is_some();
            Some(if postgres { 3 } else { 2 })
        } else if has("redis-options") || has("auth-prefix") || has("acl-prefix") {
            Some(1)
        } else if has("auth-url") || has("acl-url") || has("content-type") {
            Some(4)
        } else if has("users") || list("auth") || list("acl") {
            Some(0)
        } else {
            None
        }
    }

    /// Reads the file of datasource `code` under the top-level `auth.way`.
    pub fn load(code: u8, path: &Path, way: u8) -> Result<(SourceConfig, Modes), AuthError> {
        Ok(match code {
            0 => {
                let ledger = Ledger::load(path)?;
                let modes = Modes::resolve(path, way, None, None, 0, "")?;
                (SourceConfig::File(ledger), modes)
            }
            1 => {
                let (c, m) = RedisSource::config(path, way)?;
                (SourceConfig::Redis(c), m)
            }
            2 | 3 => {
                let (c, m) = SqlSource::config(path, way, code == 3)?;
                (SourceConfig::Sql(Box::new(c)), m)
            }
            4 => {
                let (c, m) = HttpSource::config(path, way)?;
                (SourceConfig::Http(c), m)
            }
            _ => {
                return Err(AuthError::Config {
                    path: PathBuf::from(path),
                    message: format!(
                        "datasource {code} is not 0 file, 1 redis, 2 mysql, 3 postgresql or 4 http"
                    ),
                });
            }
        })
    }
}

/// A connected datasource.
pub enum Datasource {
    /// A ledger file (`0`): users, rules and ACLs of the original's auth ledger format.
    File(Ledger),
    /// Redis (`1`).
    Redis(RedisSource),
    /// MySQL / MariaDB (`2`) or PostgreSQL (`3`).
    Sql(SqlSource),
    /// An HTTP service (`4`).
    Http(HttpSource),
}

impl Datasource {
    /// Connects what the settings describe; an unreachable server is an error naming it.
    pub async fn open(config: SourceConfig) -> Result<Datasource, AuthError> {
        Ok(match config {
            SourceConfig::File(l) => Datasource::File(l),
            SourceConfig::Redis(c) => Datasource::Redis(RedisSource::open(&c).await?),
            SourceConfig::Sql(c) => Datasource::Sql(SqlSource::open(&c).await?),
            SourceConfig::Http(c) => Datasource::Http(HttpSource::open(&c)?),
        })
    }

    /// Checks the password of CONNECT for `key`.
    pub async fn check_password(
        &self,
        key: &str,
        c: &Credentials<'_>,
        modes: &Modes,
    ) -> Result<PasswordCheck, AuthError> {
        let password = c.password.unwrap_or_default();
        let user = match self {
            Datasource::File(ledger) => return Ok(ledger.password_check(c)),
            Datasource::Http(h) => return h.check_password(key, c).await,
            Datasource::Redis(r) => r.user(key).await?,
            Datasource::Sql(s) => s.user(key).await?,
        };
        Ok(match user {
            None => PasswordCheck::Wrong,
            Some(u) if !modes.hash.verify(&u.password, password, &modes.hash_key) => {
                PasswordCheck::Wrong
            }
            Some(u) if !u.allow => PasswordCheck::Disallowed,
            Some(_) => PasswordCheck::Accepted,
        })
    }

    /// The ACL rules of `key` (for a file: see [`Ledger::acl_stages`]).
    pub async fn rules(&self, key: &str, c: &Credentials<'_>) -> Result<Rules, AuthError> {
        match self {
            Datasource::File(_) => Ok(Vec::new()),
            Datasource::Redis(r) => r.rules(key).await,
            Datasource::Sql(s) => s.rules(key).await,
            Datasource::Http(h) => h.rules(key, c).await,
        }
    }
}
