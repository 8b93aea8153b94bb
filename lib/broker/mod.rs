//! The single-node broker: sessions, routing, retained messages, QoS flows, wills.
//!
//! Data flow: a listener hands a stream to [`connection::serve`]; the connection opens the
//! client's session in [`sessions::Sessions`], and on PUBLISH calls [`Broker::publish`], which
//! updates the [`retained::RetainedStore`], matches the [`subscriptions::SubscriptionTree`]
//! and pushes one [`message::Delivery`] per subscriber into its [`session::Outbox`]; each
//! subscriber's connection drains its outbox into its socket.

#[allow(clippy::module_inception)] // the module is named for the `Broker` it holds
pub mod broker;
pub mod capabilities;
pub mod client_info;
pub mod cluster_link;
pub mod connection;
pub mod deadlines;
pub mod enhanced_auth;
pub mod events;
pub mod keep_alive;
pub mod message;
pub mod overload;
pub mod rate_limit;
pub mod reading;
pub mod retained;
pub mod route_wait;
pub mod session;
pub mod sessions;
pub mod stats;
pub mod subscriptions;
pub mod sys;
pub mod tunables;
pub mod wills;

pub use broker::{Audience, Broker};
pub use capabilities::Capabilities;
