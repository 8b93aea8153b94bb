//! Stored passwords as the original's datasources keep them (`password-hash: 0..8`): plain
//! text, bcrypt, or a hex digest (MD5, SHA-1, SHA-256, SHA-512, or their HMAC with `hash-key`).

use hmac::{Hmac, KeyInit, Mac};
use sha1::Digest;

/// How a datasource stores passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordHash {
    /// 0: the password itself.
    #[default]
    Plain,
    /// 1: bcrypt (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt,
    /// 2: hex MD5.
    Md5,
    /// 3: hex SHA-1.
    Sha1,
    /// 4: hex SHA-256.
    Sha256,
    /// 5: hex SHA-512.
    Sha512,
    /// 6: hex HMAC-SHA-1 keyed by `hash-key`.
    HmacSha1,
    /// 7: hex HMAC-SHA-256 keyed by `hash-key`.
    HmacSha256,
    /// 8: hex HMAC-SHA-512 keyed by `hash-key`.
    HmacSha512,
}

impl PasswordHash {
    /// The hash of the original's code `code`.
    pub fn from_code(code: u8) -> Option<PasswordHash> {
        use PasswordHash::*;
        Some(match code {
            0 => Plain,
            1 => Bcrypt,
            2 => Md5,
            3 => Sha1,
            4 => Sha256,
            5 => Sha512,
            6 => HmacSha1,
            7 => HmacSha256,
            8 => HmacSha512,
            _ => return None,
        })
    }

    /// True if this hash needs a `hash-key`.
    pub fn is_keyed(self) -> bool {
        matches!(
            self,
            PasswordHash::HmacSha1 | PasswordHash::HmacSha256 | PasswordHash::HmacSha512
        )
    }

    /// Does `given` (from CONNECT) match `stored`? Digests compare case-insensitively and in
    /// constant time.
    pub fn verify(self, stored: &str, given: &[u8], key: &str) -> bool {
        let key = key.as_bytes();
        let digest = match self {
            PasswordHash::Plain => return constant_time_eq(stored.as_bytes(), given),
            PasswordHash::Bcrypt => return bcrypt::verify(given, stored).unwrap_or(false),
            PasswordHash::Md5 => hex::encode(md5::Md5::digest(given)),
            PasswordHash::Sha1 => hex::encode(sha1::Sha1::digest(given)),
            PasswordHash::Sha256 => hex::encode(sha2::Sha256::digest(given)),
            PasswordHash::Sha512 => hex::encode(sha2::Sha512::digest(given)),
            PasswordHash::HmacSha1 => hmac_hex::<Hmac<sha1::Sha1>>(key, given),
            PasswordHash::HmacSha256 => hmac_hex::<Hmac<sha2::Sha256>>(key, given),
            PasswordHash::HmacSha512 => hmac_hex::<Hmac<sha2::Sha512>>(key, given),
        };
        constant_time_eq(
            stored.trim().to_ascii_lowercase().as_bytes(),
            digest.as_bytes(),
        )
    }
}

fn hmac_hex<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Compares without stopping at the first difference (a password, token or secret check must
/// not leak how much of a guess was right through its timing). Every such check calls this.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hash_of_the_original_verifies() {
        // Digests of "secret", as the original's crypto.go and any shell tool computes them.
        let cases = [
            (PasswordHash::Plain, "secret".to_string(), ""),
            (
                PasswordHash::Md5,
                "5ebe2294ecd0e0f08eab7690d2a6ee69".into(),
                "",
            ),
            (
                PasswordHash::Sha1,
                "E5E9FA1BA31ECD1AE84F75CAAA474F3A663F05F4".into(),
                "",
            ),
            (
                PasswordHash::Sha256,
                "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b".into(),
                "",
            ),
            (
                PasswordHash::HmacSha256,
                hmac_hex::<Hmac<sha2::Sha256>>(b"k", b"secret"),
                "k",
            ),
            (PasswordHash::Bcrypt, bcrypt::hash("secret", 4).unwrap(), ""),
        ];
        for (hash, stored, key) in cases {
            assert!(hash.verify(&stored, b"secret", key), "{hash:?}");
            assert!(!hash.verify(&stored, b"Secret", key), "{hash:?}");
        }
        assert_eq!(
            hmac_hex::<Hmac<sha2::Sha256>>(b"key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(!PasswordHash::Bcrypt.verify("not a bcrypt hash", b"secret", ""));
    }
}
