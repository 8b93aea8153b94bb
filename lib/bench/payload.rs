//! Message payloads. By default mqtt-stresser's text, `this is msg #<i>!`, followed by the
//! send time (` ts=<nanoseconds since the run started>`) so the subscriber can time each
//! message; `-payload-size N` makes N-byte binary payloads that start with the sequence
//! number and the send time (both big-endian u64) when N >= 16; `-constant-payload` (or a
//! `@file`) is sent as is and timed by sequence instead (see `stats::SendLog`).
//!
//! Payloads are written into one arena buffer and split off it, so a steady stream of
//! messages reuses the same memory instead of allocating per message.

use std::fmt::Write as _;

use bytes::{BufMut, Bytes, BytesMut};

/// Bytes of the binary stamp (sequence number and send time) of sized payloads.
pub const STAMP_LEN: usize = 16;

/// Arena bytes reserved at a time.
const ARENA_CHUNK: usize = 64 * 1024;

/// What the payloads look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadKind {
    /// `this is msg #<i>! ts=<ns>` (the default).
    Counted,
    /// `-payload-size N`: N bytes, stamped when N >= [`STAMP_LEN`], else N times `x`.
    Sized(usize),
    /// `-constant-payload`: the same bytes every time.
    Constant(Bytes),
}

impl PayloadKind {
    /// True when each payload carries its own send time.
    pub fn is_stamped(&self) -> bool {
        match self {
            PayloadKind::Counted => true,
            PayloadKind::Sized(n) => *n >= STAMP_LEN,
            PayloadKind::Constant(_) => false,
        }
    }

    /// The send time (clock nanoseconds) in `payload`, if this kind carries one and the
    /// payload holds it.
    pub fn read_stamp(&self, payload: &[u8]) -> Option<u64> {
        match self {
            PayloadKind::Counted => {
                let eq = payload.iter().rposition(|&b| b == b'=')?;
                let digits = &payload[eq + 1..];
                if digits.is_empty() || digits.len() > 20 {
                    return None;
                }
                digits.iter().try_fold(0u64, |acc, &b| {
                    b.is_ascii_digit()
                        .then(|| acc.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
                })
            }
            PayloadKind::Sized(n) if *n >= STAMP_LEN && payload.len() >= STAMP_LEN => Some(
                u64::from_be_bytes(payload[8..16].try_into().expect("8 bytes")),
            ),
            _ => None,
        }
    }
}

/// Makes one publisher's payloads.
pub struct PayloadWriter {
    /// What to make.
    kind: PayloadKind,
    /// Memory payloads are written into and split off.
    arena: BytesMut,
    /// The payload of unstamped sized messages, made once.
    fixed: Bytes,
}

impl PayloadWriter {
    /// A writer for `kind`.
    pub fn new(kind: PayloadKind) -> PayloadWriter {
        let fixed = match &kind {
            PayloadKind::Sized(n) if *n < STAMP_LEN => Bytes::from(vec![b'x'; *n]),
            PayloadKind::Constant(bytes) => bytes.clone(),
            _ => Bytes::new(),
        };
        PayloadWriter {
            kind,
            arena: BytesMut::new(),
            fixed,
        }
    }

    /// The payload of message `seq` sent at `stamp_ns`.
    pub fn next(&mut self, seq: u64, stamp_ns: u64) -> Bytes {
        match self.kind {
            PayloadKind::Counted => {
                self.room(48);
                let _ = write!(self.arena, "this is msg #{seq}! ts={stamp_ns}");
                self.arena.split().freeze()
            }
            PayloadKind::Sized(n) if n >= STAMP_LEN => {
                self.room(n);
                self.arena.put_u64(seq);
                self.arena.put_u64(stamp_ns);
                self.arena.put_bytes(b'x', n - STAMP_LEN);
                self.arena.split().freeze()
            }
            _ => self.fixed.clone(),
        }
    }

    /// Makes sure the arena has `n` bytes free; once the payloads split off earlier are gone
    /// this reuses the same allocation.
    fn room(&mut self, n: usize) {
        if self.arena.capacity() - self.arena.len() < n {
            self.arena.reserve(n.max(ARENA_CHUNK));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_payloads_carry_their_stamp() {
        let mut w = PayloadWriter::new(PayloadKind::Counted);
        let p = w.next(7, 123_456);
        assert_eq!(&p[..], b"this is msg #7! ts=123456");
        assert_eq!(PayloadKind::Counted.read_stamp(&p), Some(123_456));
        assert_eq!(PayloadKind::Counted.read_stamp(b"this is msg #7!"), None);
    }

    #[test]
    fn sized_payloads_have_the_size_and_a_stamp_when_large_enough() {
        let mut w = PayloadWriter::new(PayloadKind::Sized(100));
        let p = w.next(3, 99);
        assert_eq!(p.len(), 100);
        assert_eq!(PayloadKind::Sized(100).read_stamp(&p), Some(99));
        let mut small = PayloadWriter::new(PayloadKind::Sized(4));
        assert_eq!(&small.next(1, 1)[..], b"xxxx");
        assert!(!PayloadKind::Sized(4).is_stamped());
    }

    #[test]
    fn constant_payloads_are_shared() {
        let kind = PayloadKind::Constant(Bytes::from_static(b"hello"));
        let mut w = PayloadWriter::new(kind.clone());
        assert_eq!(&w.next(0, 5)[..], b"hello");
        assert_eq!(kind.read_stamp(b"hello"), None);
    }
}
