//! The dashboard's session cookie: `comqtt_session=<payload>.<signature>`, the payload
//! (user, password stamp, expiry, nonce) signed with HMAC-SHA256 under the key of
//! `dashboard.secret-file` (or a random key made at startup: sessions then end with the
//! process). A session is void once expired, logged out (its nonce revoked), or when the
//! user's password changed since it was issued. Mutating requests made with a session also
//! carry its CSRF token (a second HMAC of the nonce) in `X-Comqtt-Csrf`, which a page of
//! another origin cannot read or send.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "comqtt_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-comqtt-csrf";
/// How long a session lasts, seconds.
pub const SESSION_SECONDS: u64 = 12 * 3600;

/// What a cookie says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User name.
    pub u: String,
    /// The user's `password_set_at` when the session was issued.
    pub s: u64,
    /// Expiry, Unix seconds.
    pub e: u64,
    /// Random, hex: names the session (logout revokes it).
    pub n: String,
}

/// Why a secret file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Unreadable.
    #[error("dashboard.secret-file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Too short to be a key.
    #[error(
        "dashboard.secret-file {0}: holds fewer than 16 bytes (use e.g. `head -c 32 /dev/urandom | base64`)"
    )]
    Short(String),
    /// No randomness.
    #[error("no random key could be made: {0}")]
    Random(String),
}

/// Fills `buf` from the system's secure random source.
pub fn random(buf: &mut [u8]) -> Result<(), KeyError> {
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(buf)
        .map_err(|e| KeyError::Random(format!("{e:?}")))
}

/// Signs and checks cookies; remembers logged-out sessions until they would have expired.
pub struct Signer {
    key: Vec<u8>,
    revoked: Mutex<HashMap<String, u64>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer with the key of `secret_file`, or a random one when it is empty (the second
    /// value says so).
    pub fn new(secret_file: &str) -> Result<(Signer, bool), KeyError> {
        let (key, random_key) = if secret_file.is_empty() {
            let mut key = vec![0u8; 32];
            random(&mut key)?;
            (key, true)
        } else {
            let bytes = std::fs::read(secret_file).map_err(|source| KeyError::Read {
                path: secret_file.to_string(),
                source,
            })?;
            let trimmed = bytes.trim_ascii().to_vec();
            if trimmed.len() < 16 {
                return Err(KeyError::Short(secret_file.to_string()));
            }
            (trimmed, false)
        };
        Ok((
            Signer {
                key,
                revoked: Mutex::default(),
            },
            random_key,
        ))
    }

    fn mac(&self, what: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        mac.update(what);
        mac.finalize().into_bytes().to_vec()
    }

    /// A cookie value for `username` whose password was set at `stamp`.
    pub fn issue(
        &self,
        username: &str,
        stamp: u64,
        now: u64,
    ) -> Result<(String, Claims), KeyError> {
        let mut nonce = [0u8; 16];
        random(&mut nonce)?;
        let claims = Claims {
            u: username.to_string(),
            s: stamp,
            e: now + SESSION_SECONDS,
            n: hex::encode(nonce),
        };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
        let signature = URL_SAFE_NO_PAD.encode(self.mac(payload.as_bytes()));
        Ok((format!("{payload}.{signature}"), claims))
    }

    /// The claims of a cookie value signed here, not expired and not logged out.
    pub fn check(&self, value: &str, now: u64) -> Option<Claims> {
        let (payload, signature) = value.split_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key).ok()?;
        mac.update(payload.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        if claims.e <= now || self.revoked.lock().contains_key(&claims.n) {
            return None;
        }
        Some(claims)
    }

    /// The CSRF token of a session.
    pub fn csrf(&self, claims: &Claims) -> String {
        hex::encode(&self.mac(format!("csrf:{}", claims.n).as_bytes())[..16])
    }

    /// Whether `token` is the CSRF token of the session (constant time).
    pub fn csrf_matches(&self, claims: &Claims, token: &str) -> bool {
        crate::auth::password::constant_time_eq(self.csrf(claims).as_bytes(), token.as_bytes())
    }

    /// Ends a session (logout); forgets sessions that expired meanwhile.
    pub fn revoke(&self, claims: &Claims, now: u64) {
        let mut revoked = self.revoked.lock();
        revoked.retain(|_, expiry| *expiry > now);
        revoked.insert(claims.n.clone(), claims.e);
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_checked_by_its_signature_expiry_and_revocation() {
        let (s, random_key) = Signer::new("").unwrap();
        assert!(random_key);
        let (value, claims) = s.issue("ann", 7, 1000).unwrap();
        assert_eq!(s.check(&value, 1001), Some(claims.clone()));
        assert_eq!(s.check(&value, 1000 + SESSION_SECONDS), None, "expired");
        let mut forged = value.clone();
        forged.replace_range(0..1, if value.starts_with('e') { "f" } else { "e" });
        assert_eq!(s.check(&forged, 1001), None, "payload changed");
        let (other, _) = Signer::new("").unwrap();
        assert_eq!(other.check(&value, 1001), None, "another key");
        assert!(s.csrf_matches(&claims, &s.csrf(&claims)));
        assert!(!s.csrf_matches(&claims, "00"));
        s.revoke(&claims, 1001);
        assert_eq!(s.check(&value, 1002), None, "logged out");
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie_value("a=1; comqtt_session=x.y; b=2", COOKIE),
            Some("x.y")
        );
        assert_eq!(cookie_value("a=1", COOKIE), None);
    }
}
