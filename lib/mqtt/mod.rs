//! The MQTT 3.1 / 3.1.1 / 5.0 codec: packets, properties, reason codes, topic rules.
//!
//! It knows nothing of sessions or routing. Decoding is zero-copy on [`bytes::Bytes`] and
//! incremental ([`decode`] returns `Ok(None)` until a whole packet is buffered); the maximum
//! packet size is enforced from the fixed header before the body is buffered. Every malformed
//! input is a [`DecodeError`] carrying the reason code to answer with, never a panic.
//!
//! Files: `wire` (primitive types), `string` (UTF-8 strings), `properties` (v5 property
//! blocks), `reason` (reason codes), `topic` (names, filters, matching, `$share`),
//! `packet/` (one file per packet type), `codec` (framing).

mod codec;
mod error;
pub mod packet;
pub mod properties;
mod protocol;
mod reason;
mod string;
pub mod topic;
pub mod topic_tree;
pub mod wire;

pub use codec::{FrameHeader, decode, peek_frame};
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::UserProperty;
pub use protocol::{Protocol, QoS};
pub use reason::ReasonCode;
pub use string::{MqttString, StringError};
