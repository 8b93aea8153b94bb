//! comqtt: a clustered MQTT 3.1 / 3.1.1 / 5.0 broker suite.
//!
//! The library holds everything; the four binaries under `bins/` only parse arguments and
//! wire these modules together.
//!
//! | module | owns |
//! | --- | --- |
//! | [`mqtt`] | the codec: packets, properties, reason codes, topic names and filters |

pub mod mqtt;
