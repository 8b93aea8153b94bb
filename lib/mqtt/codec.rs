//! Framing: finds whole packets in a growing read buffer and decodes them, enforcing the
//! maximum packet size from the fixed header alone, before any body byte is buffered.

use bytes::{Buf, BytesMut};

use super::wire::decode_varint;
use super::{DecodeError, Packet, Protocol};

/// What the fixed header says about the next packet in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The first byte: packet type and flags.
    pub first: u8,
    /// Bytes of the fixed header (1 + the remaining-length bytes).
    pub header_len: usize,
    /// The remaining length: bytes of the body.
    pub body_len: usize,
}

impl FrameHeader {
    /// Bytes of the whole packet.
    pub fn total_len(&self) -> usize {
        self.header_len + self.body_len
    }
}

/// Reads the fixed header at the start of `buf`: `Ok(None)` if it is not complete yet;
/// [`DecodeError::TooLarge`] if the packet it announces exceeds `max_packet_size`, so the
/// caller never reserves memory for it.
pub fn peek_frame(buf: &[u8], max_packet_size: usize) -> Result<Option<FrameHeader>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    let Some((body_len, n)) = decode_varint(&buf[1..])? else {
        return Ok(None);
    };
    let frame = FrameHeader {
        first,
        header_len: 1 + n,
        body_len,
    };
    if frame.total_len() > max_packet_size {
        return Err(DecodeError::TooLarge {
            size: frame.total_len(),
            max: max_packet_size,
        });
    }
    Ok(Some(frame))
}

/// Decodes the next packet from `buf` and removes its bytes, or returns `Ok(None)` if the
/// buffer does not hold a whole packet yet (nothing is consumed then). The packet's strings
/// and payload share `buf`'s memory.
pub fn decode(
    buf: &mut BytesMut,
    protocol: Protocol,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some(frame) = peek_frame(buf, max_packet_size)? else {
        return Ok(None);
    };
    if buf.len() < frame.total_len() {
        return Ok(None);
    }
    let mut bytes = buf.split_to(frame.total_len()).freeze();
    bytes.advance(frame.header_len);
    Packet::decode_body(frame.first, bytes, protocol).map(Some)
}
