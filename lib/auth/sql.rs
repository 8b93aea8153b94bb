//! The SQL datasources: MySQL / MariaDB (`auth.datasource: 2`, `auth-mysql.yml`) and
//! PostgreSQL (`3`, `auth-postgresql.yml`), with the original's tables and queries:
//!
//! - `select <password-column>, <allow-column> from <auth.table> where <user-column> = ?`
//! - `select <topic-column>, <access-column> from <acl.table> where <user-column> = ?`
//!
//! Table and column names come from the file and must be plain identifiers (`schema.table`
//! allowed): they are written into the query text, so anything else is refused at startup.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{AssertSqlSafe, Row};

use super::AuthError;
use super::access::{Access, Rules};
use super::datasource::{Modes, StoredUser, nullable, parse_file};

/// `auth-mysql.yml` / `auth-postgresql.yml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct SqlAuthConfig {
    /// 0 allow all, 1 user name, 2 client id (default: the top-level `auth.way`).
    pub auth_mode: Option<u8>,
    /// 0 allow all, 1 user name, 2 client id (default: `auth-mode`).
    pub acl_mode: Option<u8>,
    /// Where the database is.
    pub dsn: Dsn,
    /// The users table.
    pub auth: AuthTable,
    /// The ACL table.
    pub acl: AclTable,
    /// Set by the loader: PostgreSQL (true) or MySQL.
    #[serde(skip)]
    pub postgres: bool,
}

/// `dsn:` of the file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Dsn {
    #[serde(deserialize_with = "nullable")]
    pub host: String,
    /// 0: the database's default port (3306, 5432).
    pub port: u16,
    /// The database name.
    #[serde(deserialize_with = "nullable")]
    pub schema: String,
    /// MySQL: the connection character set (`utf8`, `utf8mb4`).
    #[serde(deserialize_with = "nullable")]
    pub charset: String,
    /// PostgreSQL: `disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`.
    #[serde(deserialize_with = "nullable")]
    pub sslmode: String,
    #[serde(deserialize_with = "nullable")]
    pub login_name: String,
    #[serde(deserialize_with = "nullable")]
    pub login_password: String,
    /// Pool size (default 10).
    pub max_open_conns: u32,
    /// Connections kept open while idle (at most `max-open-conns`).
    pub max_idle_conns: u32,
}

/// `auth:` of the file: the users table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct AuthTable {
    pub table: String,
    pub user_column: String,
    pub password_column: String,
    pub allow_column: String,
    /// 0..8, see [`super::password::PasswordHash`].
    pub password_hash: u8,
    #[serde(deserialize_with = "nullable")]
    pub hash_key: String,
}

/// `acl:` of the file: the rules table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct AclTable {
    pub table: String,
    pub user_column: String,
    pub topic_column: String,
    pub access_column: String,
    /// Keys of the original's PostgreSQL sample that its code never reads; accepted, unused.
    pub publish: Option<i64>,
    pub subscribe: Option<i64>,
    pub pubsub: Option<i64>,
}

impl Default for AuthTable {
    fn default() -> Self {
        AuthTable {
            table: "auth".into(),
            user_column: "username".into(),
            password_column: "password".into(),
            allow_column: "allow".into(),
            password_hash: 0,
            hash_key: String::new(),
        }
    }
}

impl Default for AclTable {
    fn default() -> Self {
        AclTable {
            table: "acl".into(),
            user_column: "username".into(),
            topic_column: "topic".into(),
            access_column: "access".into(),
            publish: None,
            subscribe: None,
            pubsub: None,
        }
    }
}

/// How long to wait for a pooled connection or a query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// A plain SQL identifier, optionally qualified (`schema.table`).
fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

enum Pool {
    MySql(MySqlPool),
    Postgres(PgPool),
}

/// A connected SQL datasource.
pub struct SqlSource {
    pool: Pool,
    /// Built from validated identifiers only (see [`is_identifier`]).
    user_query: Arc<str>,
    acl_query: Arc<str>,
    /// `host:port`, for errors.
    location: String,
}

impl SqlSource {
    /// Reads and checks `auth-mysql.yml` / `auth-postgresql.yml`.
    pub fn config(
        path: &Path,
        way: u8,
        postgres: bool,
    ) -> Result<(SqlAuthConfig, Modes), AuthError> {
        let mut c: SqlAuthConfig = parse_file(path)?;
        c.postgres = postgres;
        let modes = Modes::resolve(
            path,
            way,
            c.auth_mode,
            c.acl_mode,
            c.auth.password_hash,
            &c.auth.hash_key,
        )?;
        for (key, value) in [
            ("auth.table", &c.auth.table),
            ("auth.user-column", &c.auth.user_column),
            ("auth.password-column", &c.auth.password_column),
            ("auth.allow-column", &c.auth.allow_column),
            ("acl.table", &c.acl.table),
            ("acl.user-column", &c.acl.user_column),
            ("acl.topic-column", &c.acl.topic_column),
            ("acl.access-column", &c.acl.access_column),
        ] {
            if !is_identifier(value) {
                return Err(AuthError::Config {
                    path: path.to_path_buf(),
                    message: format!(
                        "{key}: {value:?} is not allowed (a plain SQL name: letters, digits, _; schema.table allowed)"
                    ),
                });
            }
        }
        if c.dsn.host.is_empty() {
            return Err(AuthError::Config {
                path: path.to_path_buf(),
                message: "dsn.host: a database host is required".into(),
            });
        }
        if postgres {
            ssl_mode(&c.dsn.sslmode).map_err(|message| AuthError::Config {
                path: path.to_path_buf(),
                message,
            })?;
        }
        Ok((c, modes))
    }

    /// Connects the pool; an unreachable database is an error naming it.
    pub async fn open(c: &SqlAuthConfig) -> Result<SqlSource, AuthError> {
        let d = &c.dsn;
        let port = match (d.port, c.postgres) {
            (0, true) => 5432,
            (0, false) => 3306,
            (p, _) => p,
        };
        let location = format!("{}:{port}", d.host);
        let datasource = if c.postgres { "postgresql" } else { "mysql" };
        let unreachable = |e: sqlx::Error| AuthError::Unreachable {
            datasource,
            location: location.clone(),
            reason: e.to_string(),
        };
        let max = if d.max_open_conns == 0 {
            10
        } else {
            d.max_open_conns
        };
        let idle = d.max_idle_conns.min(max);
        let (cast_text, cast_int, placeholder) = if c.postgres {
            ("TEXT", "BIGINT", "$1")
        } else {
            ("CHAR", "SIGNED", "?")
        };
        let user_query = format!(
            "SELECT CAST({} AS {cast_text}), CAST({} AS {cast_int}) FROM {} WHERE {} = {placeholder}",
            c.auth.password_column, c.auth.allow_column, c.auth.table, c.auth.user_column
        );
        let acl_query = format!(
            "SELECT CAST({} AS {cast_text}), CAST({} AS {cast_int}) FROM {} WHERE {} = {placeholder}",
            c.acl.topic_column, c.acl.access_column, c.acl.table, c.acl.user_column
        );
        let pool = if c.postgres {
            let mut o = PgConnectOptions::new()
                .host(&d.host)
                .port(port)
                .ssl_mode(ssl_mode(&d.sslmode).unwrap_or(PgSslMode::Prefer));
            if !d.login_name.is_empty() {
                o = o.username(&d.login_name);
            }
            if !d.login_password.is_empty() {
                o = o.password(&d.login_password);
            }
            if !d.schema.is_empty() {
                o = o.database(&d.schema);
            }
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(max)
                    .min_connections(idle)
                    .acquire_timeout(QUERY_TIMEOUT)
                    .connect_with(o)
                    .await
                    .map_err(unreachable)?,
            )
        } else {
            let mut o = MySqlConnectOptions::new().host(&d.host).port(port);
            if !d.login_name.is_empty() {
                o = o.username(&d.login_name);
            }
            if !d.login_password.is_empty() {
                o = o.password(&d.login_password);
            }
            if !d.schema.is_empty() {
                o = o.database(&d.schema);
            }
            if !d.charset.is_empty() {
                o = o.charset(&d.charset);
            }
            Pool::MySql(
                MySqlPoolOptions::new()
                    .max_connections(max)
                    .min_connections(idle)
                    .acquire_timeout(QUERY_TIMEOUT)
                    .connect_with(o)
                    .await
                    .map_err(unreachable)?,
            )
        };
        let source = SqlSource {
            pool,
            user_query: user_query.into(),
            acl_query: acl_query.into(),
            location,
        };
        // A wrong table or column name shows now, not at the first CONNECT.
        source.user("").await?;
        source.rules("").await?;
        Ok(source)
    }

    fn failed(&self, e: sqlx::Error) -> AuthError {
        AuthError::Unreachable {
            datasource: match self.pool {
                Pool::MySql(_) => "mysql",
                Pool::Postgres(_) => "postgresql",
            },
            location: self.location.clone(),
            reason: e.to_string(),
        }
    }

    /// Rows of `query` for `key` as (text, integer) pairs.
    async fn pairs(
        &self,
        query: &Arc<str>,
        key: &str,
    ) -> Result<Vec<(Option<String>, Option<i64>)>, AuthError> {
        let rows: Result<Vec<_>, sqlx::Error> = match &self.pool {
            Pool::MySql(pool) => sqlx::query(AssertSqlSafe(query.clone()))
                .bind(key)
                .fetch_all(pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                        .collect()
                }),
            Pool::Postgres(pool) => sqlx::query(AssertSqlSafe(query.clone()))
                .bind(key)
                .fetch_all(pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                        .collect()
                }),
        };
        rows.map_err(|e| self.failed(e))
    }

    /// The user row of `key`, if any (`allow = 0` refuses it).
    pub async fn user(&self, key: &str) -> Result<Option<StoredUser>, AuthError> {
        let rows = self.pairs(&self.user_query, key).await?;
        Ok(rows.into_iter().next().map(|(password, allow)| StoredUser {
            password: password.unwrap_or_default(),
            allow: allow.unwrap_or(0) != 0,
        }))
    }

    /// The ACL rows of `key`.
    pub async fn rules(&self, key: &str) -> Result<Rules, AuthError> {
        let rows = self.pairs(&self.acl_query, key).await?;
        let mut rules = Vec::with_capacity(rows.len());
        for (topic, access) in rows {
            match (topic, access.and_then(Access::from_code)) {
                (Some(t), Some(a)) => rules.push((t, a)),
                (t, _) => {
                    tracing::warn!(key, topic = ?t, ?access, "ACL row with no topic or an access outside 0..3; ignored")
                }
            }
        }
        Ok(rules)
    }
}

fn ssl_mode(mode: &str) -> Result<PgSslMode, String> {
    Ok(match mode {
        "" | "prefer" => PgSslMode::Prefer,
        "disable" => PgSslMode::Disable,
        "allow" => PgSslMode::Allow,
        "require" => PgSslMode::Require,
        "verify-ca" => PgSslMode::VerifyCa,
        "verify-full" => PgSslMode::VerifyFull,
        other => {
            return Err(format!(
                "dsn.sslmode: {other:?} is not allowed (disable, allow, prefer, require, verify-ca, verify-full)"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_plain_names() {
        assert!(is_identifier("auth") && is_identifier("mqtt.acl") && is_identifier("_t1"));
        for bad in ["", "a b", "a;drop", "1a", "a.", "x-y", "\"q\""] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}
