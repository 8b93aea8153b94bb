//! The Redis datasource (`auth.datasource: 1`), with the original's file (`auth-redis.yml`)
//! and key layout:
//!
//! - users: hash `<auth-prefix>`, field = the key (user name or client id), value JSON
//!   `{"username": .., "password": .., "allow": true}`;
//! - ACL: hash `<acl-prefix>:<key>`, field = topic filter, value `"0"`..`"3"`.

use std::path::Path;
use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::Deserialize;

use super::AuthError;
use super::access::{Access, Rules};
use super::datasource::{Modes, StoredUser, nullable, parse_file};
use crate::storage::redis::{RedisOptions, redis_url};

/// `auth-redis.yml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct RedisAuthConfig {
    /// Where Redis is.
    pub redis_options: RedisConnection,
    /// 0 allow all, 1 user name, 2 client id (default: the top-level `auth.way`).
    pub auth_mode: Option<u8>,
    /// Hash of the users.
    #[serde(deserialize_with = "nullable")]
    pub auth_prefix: String,
    /// 0 allow all, 1 user name, 2 client id (default: `auth-mode`).
    pub acl_mode: Option<u8>,
    /// Prefix of the per-key ACL hashes.
    #[serde(deserialize_with = "nullable")]
    pub acl_prefix: String,
    /// 0..8, see [`PasswordHash`].
    pub password_hash: u8,
    /// Key of the HMAC hashes.
    #[serde(deserialize_with = "nullable")]
    pub hash_key: String,
}

/// `redis-options:` of the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConnection {
    #[serde(deserialize_with = "nullable")]
    pub addr: String,
    #[serde(deserialize_with = "nullable")]
    pub username: String,
    #[serde(deserialize_with = "nullable")]
    pub password: String,
    pub db: i64,
}

impl Default for RedisAuthConfig {
    fn default() -> Self {
        RedisAuthConfig {
            redis_options: RedisConnection::default(),
            auth_mode: None,
            auth_prefix: "comqtt:auth".into(),
            acl_mode: None,
            acl_prefix: "comqtt:acl".into(),
            password_hash: 0,
            hash_key: String::new(),
        }
    }
}

impl Default for RedisConnection {
    fn default() -> Self {
        RedisConnection {
            addr: "127.0.0.1:6379".into(),
            username: String::new(),
            password: String::new(),
            db: 0,
        }
    }
}

/// How long a Redis answer may take before the client gets "server unavailable".
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A connected Redis datasource. The connection manager reconnects by itself after Redis
/// comes back; meanwhile lookups fail and clients get CONNACK 0x88 (server unavailable).
pub struct RedisSource {
    conn: ConnectionManager,
    auth_key: String,
    acl_prefix: String,
    /// Address, for errors.
    addr: String,
}

impl RedisSource {
    /// Reads `auth-redis.yml`: the settings and the key modes.
    pub fn config(path: &Path, way: u8) -> Result<(RedisAuthConfig, Modes), AuthError> {
        let c: RedisAuthConfig = parse_file(path)?;
        let modes = Modes::resolve(
            path,
            way,
            c.auth_mode,
            c.acl_mode,
            c.password_hash,
            &c.hash_key,
        )?;
        if c.auth_prefix.is_empty() || c.acl_prefix.is_empty() {
            return Err(AuthError::Config {
                path: path.to_path_buf(),
                message: "auth-prefix and acl-prefix must not be empty".into(),
            });
        }
        Ok((c, modes))
    }

    /// Connects; an unreachable Redis is an error naming its address.
    pub async fn open(c: &RedisAuthConfig) -> Result<RedisSource, AuthError> {
        let r = &c.redis_options;
        let options = RedisOptions {
            addr: r.addr.clone(),
            username: r.username.clone(),
            password: r.password.clone(),
            db: r.db,
            prefix: String::new(),
            node: None,
        };
        let unreachable = |reason: String| AuthError::Unreachable {
            datasource: "redis",
            location: r.addr.clone(),
            reason,
        };
        let url = redis_url(&options).ok_or_else(|| unreachable("expected host:port".into()))?;
        let client = redis::Client::open(url).map_err(|e| unreachable(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(RESPONSE_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(RedisSource {
            conn,
            auth_key: c.auth_prefix.clone(),
            acl_prefix: c.acl_prefix.clone(),
            addr: r.addr.clone(),
        })
    }

    fn failed(&self, e: redis::RedisError) -> AuthError {
        AuthError::Unreachable {
            datasource: "redis",
            location: self.addr.clone(),
            reason: e.to_string(),
        }
    }

    /// The stored user of `key`, if any.
    pub async fn user(&self, key: &str) -> Result<Option<StoredUser>, AuthError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = conn
            .hget(&self.auth_key, key)
            .await
            .map_err(|e| self.failed(e))?;
        let Some(raw) = raw else { return Ok(None) };
        #[derive(Deserialize)]
        struct Row {
            #[serde(default)]
            password: String,
            #[serde(default)]
            allow: bool,
        }
        match serde_json::from_str::<Row>(&raw) {
            Ok(row) => Ok(Some(StoredUser {
                password: row.password,
                allow: row.allow,
            })),
            Err(e) => {
                tracing::warn!(key, hash = %self.auth_key, error = %e, "unreadable user record in redis");
                Ok(None)
            }
        }
    }

    /// The ACL rules of `key`.
    pub async fn rules(&self, key: &str) -> Result<Rules, AuthError> {
        let mut conn = self.conn.clone();
        let hash = format!("{}:{key}", self.acl_prefix);
        let rows: Vec<(String, String)> = conn.hgetall(&hash).await.map_err(|e| self.failed(e))?;
        let mut rules = Vec::with_capacity(rows.len());
        for (filter, access) in rows {
            match access.trim().parse().ok().and_then(Access::from_code) {
                Some(a) => rules.push((filter, a)),
                None => {
                    tracing::warn!(hash = %hash, filter, access, "ACL access is not 0..3; rule ignored")
                }
            }
        }
        Ok(rules)
    }
}
