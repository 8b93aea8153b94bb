//! The primitive data types of the wire format (spec 1.5): integers, variable byte integers,
//! length-prefixed binary data and UTF-8 strings; a checked reader over a packet's bytes and
//! the matching writers.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{DecodeError, EncodeError, MqttString};

/// The largest value a variable byte integer holds (four bytes).
pub const MAX_VARIABLE_INTEGER: usize = 268_435_455;

/// A bounds-checked reader over one packet's bytes. Slices it returns share the packet's
/// buffer (no copy); every read past the end is a malformed packet, never a panic.
pub(crate) struct Reader {
    /// What is left of the packet.
    buf: Bytes,
}

const ENDS_EARLY: DecodeError = DecodeError::Malformed("packet ends before its fields do");

impl Reader {
    pub fn new(buf: Bytes) -> Reader {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        if self.buf.is_empty() {
            return Err(ENDS_EARLY);
        }
        Ok(self.buf.get_u8())
    }

    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        if self.buf.len() < 2 {
            return Err(ENDS_EARLY);
        }
        Ok(self.buf.get_u16())
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        if self.buf.len() < 4 {
            return Err(ENDS_EARLY);
        }
        Ok(self.buf.get_u32())
    }

    /// A variable byte integer (spec 1.5.5).
    pub fn varint(&mut self) -> Result<u32, DecodeError> {
        match decode_varint(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value as u32)
            }
            None => Err(ENDS_EARLY),
        }
    }

    /// The next `n` bytes, shared with the packet buffer.
    pub fn take(&mut self, n: usize) -> Result<Bytes, DecodeError> {
        if self.buf.len() < n {
            return Err(ENDS_EARLY);
        }
        Ok(self.buf.split_to(n))
    }

    /// Binary data: a two-byte length, then that many bytes (spec 1.5.6).
    pub fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.u16()? as usize;
        self.take(n)
    }

    /// A UTF-8 encoded string (spec 1.5.4), validated.
    pub fn string(&mut self) -> Result<MqttString, DecodeError> {
        let bytes = self.binary()?;
        MqttString::from_bytes(bytes).map_err(|e| match e {
            super::StringError::InvalidUtf8 => {
                DecodeError::Malformed("string is not well-formed UTF-8")
            }
            super::StringError::NullCharacter => DecodeError::Malformed("string contains U+0000"),
        })
    }

    /// Everything that is left (a PUBLISH payload).
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Fails unless every byte has been read: trailing bytes make a packet malformed.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Malformed(
                "packet has bytes after its last field",
            ))
        }
    }
}

/// Decodes a variable byte integer from the start of `buf`: `Ok(None)` when more bytes are
/// needed, the value and its length otherwise. A fifth byte or a non-minimal encoding
/// (`[MQTT-1.5.5-1]`) is malformed.
pub fn decode_varint(buf: &[u8]) -> Result<Option<(usize, usize)>, DecodeError> {
    let mut value = 0usize;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= ((byte & 0x7F) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(DecodeError::Malformed(
                    "variable byte integer is not minimally encoded",
                ));
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::Malformed(
            "variable byte integer longer than four bytes",
        ))
    } else {
        Ok(None)
    }
}

/// Bytes a variable byte integer of `value` takes.
pub fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn write_varint(buf: &mut BytesMut, mut value: usize) -> Result<(), EncodeError> {
    if value > MAX_VARIABLE_INTEGER {
        return Err(EncodeError::TooLarge(value));
    }
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            return Ok(());
        }
    }
}

pub(crate) fn write_binary(buf: &mut BytesMut, data: &[u8]) -> Result<(), EncodeError> {
    let len = u16::try_from(data.len()).map_err(|_| EncodeError::FieldTooLong(data.len()))?;
    buf.put_u16(len);
    buf.put_slice(data);
    Ok(())
}

pub(crate) fn write_string(buf: &mut BytesMut, s: &str) -> Result<(), EncodeError> {
    write_binary(buf, s.as_bytes())
}

/// Bytes a string or binary field takes with its length prefix.
pub(crate) fn field_len(data: &[u8]) -> usize {
    2 + data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_boundaries_from_spec_table_1_5_5() {
        for (value, bytes) in [
            (0usize, &[0x00u8][..]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ] {
            let mut buf = BytesMut::new();
            write_varint(&mut buf, value).unwrap();
            assert_eq!(&buf[..], bytes, "encoding {value}");
            assert_eq!(varint_len(value), bytes.len());
            assert_eq!(decode_varint(bytes).unwrap(), Some((value, bytes.len())));
        }
    }

    #[test]
    fn varint_of_five_bytes_is_malformed() {
        assert!(decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        assert!(decode_varint(&[0x80, 0x80, 0x80, 0x80]).is_err());
    }

    #[test]
    fn varint_partial_needs_more() {
        assert_eq!(decode_varint(&[0x80, 0x80]).unwrap(), None);
        assert_eq!(decode_varint(&[]).unwrap(), None);
    }

    #[test]
    fn varint_non_minimal_is_malformed_mqtt_1_5_5_1() {
        assert!(decode_varint(&[0x80, 0x00]).is_err());
    }

    #[test]
    fn varint_too_large_to_encode() {
        assert!(write_varint(&mut BytesMut::new(), MAX_VARIABLE_INTEGER + 1).is_err());
    }
}
