//! Listeners: accept connections and hand each stream to [`crate::broker::connection::serve`].

pub mod tcp;
