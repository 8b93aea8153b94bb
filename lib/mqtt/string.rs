//! `MqttString`: a UTF-8 encoded string as MQTT defines it, held zero-copy in a `Bytes`.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// A UTF-8 string shared without copying: a slice of the buffer the packet was read into.
///
/// Built from the wire only through [`MqttString::from_bytes`], which enforces
/// `[MQTT-1.5.4-1]` (well-formed UTF-8) and `[MQTT-1.5.4-2]` (no U+0000).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct MqttString(Bytes);

/// Why bytes are not an MQTT UTF-8 string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StringError {
    /// The bytes are not well-formed UTF-8 (this includes surrogates U+D800..U+DFFF).
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
    /// The string contains the null character U+0000.
    #[error("string contains U+0000")]
    NullCharacter,
}

impl MqttString {
    /// A string from a static literal, without allocation.
    pub const fn from_static(s: &'static str) -> MqttString {
        MqttString(Bytes::from_static(s.as_bytes()))
    }

    /// Checks `bytes` as an MQTT string and keeps them without copying.
    pub fn from_bytes(bytes: Bytes) -> Result<MqttString, StringError> {
        let s = std::str::from_utf8(&bytes).map_err(|_| StringError::InvalidUtf8)?;
        if s.as_bytes().contains(&0) {
            return Err(StringError::NullCharacter);
        }
        Ok(MqttString(bytes))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either validates the bytes as UTF-8 (`from_bytes`) or
        // takes them from a `str`/`String`, so they are always valid UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying shared bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// A copy in its own allocation of exactly its length. For strings kept long after their
    /// packet (client ids, subscription filters, retained topics): a zero-copy slice would keep
    /// the whole read buffer it came from alive.
    pub fn detached(&self) -> MqttString {
        MqttString(Bytes::copy_from_slice(&self.0))
    }
}

impl Deref for MqttString {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for MqttString {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

// Hash as `str` does so that `Borrow<str>` lookups in hash maps agree with ours.
impl Hash for MqttString {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl From<&str> for MqttString {
    fn from(s: &str) -> Self {
        MqttString(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<String> for MqttString {
    fn from(s: String) -> Self {
        MqttString(Bytes::from(s.into_bytes()))
    }
}

impl PartialEq<str> for MqttString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for MqttString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for MqttString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_ill_formed_utf8_mqtt_1_5_4_1() {
        let surrogate = Bytes::from_static(&[0xED, 0xA0, 0x80]);
        assert_eq!(
            MqttString::from_bytes(surrogate),
            Err(StringError::InvalidUtf8)
        );
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(&[0xC3])),
            Err(StringError::InvalidUtf8)
        );
    }

    #[test]
    fn rejects_null_character_mqtt_1_5_4_2() {
        assert_eq!(
            MqttString::from_bytes(Bytes::from_static(b"a\0b")),
            Err(StringError::NullCharacter)
        );
    }

    #[test]
    fn keeps_bom_and_non_ascii_mqtt_1_5_4_3() {
        let s = MqttString::from_bytes(Bytes::from_static("\u{FEFF}añ/✓".as_bytes())).unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}añ/✓");
    }
}
