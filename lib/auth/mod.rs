//! Authentication and ACLs: who may connect, and what each client may publish and subscribe.
//!
//! Configured by the original's `auth:` block (`way`, `datasource`, `conf-path`,
//! `blacklist-path`). At CONNECT, the [`Authenticator`] checks the blacklist ledger first
//! (a matching rule admits or bans), then asks the datasource whether the password is right
//! for the client's key (user name or client id, per the file's `auth-mode`), and gathers the
//! client's ACL into a [`ClientAcl`] that the connection then checks without I/O on every
//! PUBLISH (write), SUBSCRIBE and delivery (read).
//!
//! | file | owns |
//! | --- | --- |
//! | [`authenticator`] | the CONNECT decision: blacklist, password check, ACL gathering, counters |
//! | [`access`] | ACL rules and decisions (longest matching filter wins) |
//! | [`ledger`] | the rule file format: the blacklist and the `file` datasource |
//! | [`datasource`] | loading the datasource files, dispatch to each datasource |
//! | [`redis`], [`sql`], [`http`] | the Redis, MySQL/PostgreSQL and HTTP datasources |
//! | [`password`] | stored password hashes (plain, bcrypt, MD5, SHA-*, HMAC-SHA-*) |

pub mod access;
pub mod authenticator;
pub mod datasource;
pub mod http;
pub mod ledger;
pub mod password;
pub mod redis;
pub mod sql;

use std::path::PathBuf;

pub use access::{Access, ClientAcl};
pub use authenticator::{Authenticator, Refusal};

/// Why authentication could not be set up or could not decide.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds a bad value, an unknown key or bad syntax.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The datasource cannot be reached or answered with an error.
    #[error("{datasource} auth datasource at {location}: {reason}")]
    Unreachable {
        /// `redis`, `mysql`, `postgresql` or `http`.
        datasource: &'static str,
        /// Address or URL.
        location: String,
        /// Why.
        reason: String,
    },
}

/// What identifies a client to a datasource (`auth-mode`, `acl-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// 0: no check (everyone passes, every topic is allowed).
    Anyone,
    /// 1: the user name of CONNECT.
    Username,
    /// 2: the client identifier.
    ClientId,
}

impl KeyMode {
    /// The mode of the original's code.
    pub fn from_code(code: u8) -> Option<KeyMode> {
        Some(match code {
            0 => KeyMode::Anyone,
            1 => KeyMode::Username,
            2 => KeyMode::ClientId,
            _ => return None,
        })
    }

    /// The key of a client in this mode (`None` for [`KeyMode::Anyone`], or no user name).
    pub fn key<'a>(self, c: &Credentials<'a>) -> Option<&'a str> {
        match self {
            KeyMode::Anyone => None,
            KeyMode::Username => c.username,
            KeyMode::ClientId => Some(c.client_id),
        }
    }
}

/// What a client presents at CONNECT.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// Client identifier (the assigned one if the client sent none).
    pub client_id: &'a str,
    /// User name, if any.
    pub username: Option<&'a str>,
    /// Password, if any.
    pub password: Option<&'a [u8]>,
    /// Remote address, `ip:port`.
    pub remote: &'a str,
}
