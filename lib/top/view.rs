//! The views (tabs) of the TUI and the orders their rows can be sorted in (`s` cycles them),
//! with the functions that pick, filter and sort a snapshot's rows for a view. `--once`
//! prints every view in its default order.

use std::cmp::Ordering;

use super::snapshot::{ClientRow, NodeView, RetainedRow, Snapshot, SubscriptionRow};

/// A tab below the node table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Message rates of the last minute and cluster figures.
    #[default]
    Overview,
    /// The clients with their traffic.
    Clients,
    /// Subscribed filters with their subscriber counts.
    Subscriptions,
    /// Retained messages.
    Retained,
}

impl View {
    /// Every view, in tab order.
    pub const ALL: [View; 4] = [
        View::Overview,
        View::Clients,
        View::Subscriptions,
        View::Retained,
    ];

    /// The tab's title.
    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Clients => "Clients",
            View::Subscriptions => "Subscriptions",
            View::Retained => "Retained",
        }
    }

    /// Its place in [`View::ALL`].
    pub fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The next tab (wrapping).
    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    /// The previous tab (wrapping).
    pub fn previous(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

/// Declares a sort order enum with its labels, cycled by `next`.
macro_rules! sort_order {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $label:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub enum $name {
            #[default]
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every order, in the order `s` cycles through them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// What the sort line says.
            pub fn label(self) -> &'static str {
                match self {
                    $($name::$variant => $label),+
                }
            }

            /// The next order (wrapping).
            pub fn next(self) -> $name {
                let i = Self::ALL.iter().position(|s| *s == self).unwrap_or(0);
                Self::ALL[(i + 1) % Self::ALL.len()]
            }
        }
    };
}

sort_order! {
    /// Orders of the node table.
    NodeSort {
        /// As listed (the cluster's order, or the command line's).
        Listed => "listed",
        /// By name.
        Name => "name",
        /// Most clients connected first.
        Clients => "clients",
        /// Most messages received per second first.
        MessagesIn => "msgs in/s",
        /// Most messages sent per second first.
        MessagesOut => "msgs out/s",
        /// Most memory first.
        Memory => "memory",
    }
}

sort_order! {
    /// Orders of the clients view.
    ClientSort {
        /// Most bytes per second (both ways) first.
        BytesRate => "bytes/s",
        /// Most bytes on this connection (both ways) first.
        BytesTotal => "bytes total",
        /// Longest connected first.
        ConnectedLongest => "longest connected",
        /// Most recently connected first.
        ConnectedNewest => "newest connection",
        /// By client id.
        ClientId => "client id",
    }
}

sort_order! {
    /// Orders of the subscriptions view.
    SubscriptionSort {
        /// Most subscribers first.
        Count => "subscribers",
        /// By filter.
        Filter => "filter",
    }
}

sort_order! {
    /// Orders of the retained view.
    RetainedSort {
        /// By topic.
        Topic => "topic",
        /// Largest payload first.
        Size => "size",
    }
}

/// Whether `text` contains `filter`, ignoring ASCII case (an empty filter keeps everything).
pub fn matches(text: &str, filter: &str) -> bool {
    filter.is_empty()
        || text
            .to_ascii_lowercase()
            .contains(&filter.to_ascii_lowercase())
}

/// Descending by an `f64` (NaN last).
fn desc(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or(Ordering::Equal)
}

/// The nodes in `sort` order.
pub fn nodes(snapshot: &Snapshot, sort: NodeSort) -> Vec<&NodeView> {
    let mut rows: Vec<&NodeView> = snapshot.nodes.iter().collect();
    let rate = |n: &NodeView, f: fn(&super::rate::Rates) -> f64| n.rates.as_ref().map_or(-1.0, f);
    let gauge = |n: &NodeView, f: fn(&super::api::Overall) -> u64| n.stats.as_ref().map(f);
    match sort {
        NodeSort::Listed => {}
        NodeSort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        NodeSort::Clients => rows.sort_by(|a, b| {
            gauge(b, |s| s.clients_connected).cmp(&gauge(a, |s| s.clients_connected))
        }),
        NodeSort::MessagesIn => {
            rows.sort_by(|a, b| desc(rate(a, |r| r.messages_in), rate(b, |r| r.messages_in)))
        }
        NodeSort::MessagesOut => {
            rows.sort_by(|a, b| desc(rate(a, |r| r.messages_out), rate(b, |r| r.messages_out)))
        }
        NodeSort::Memory => {
            rows.sort_by(|a, b| gauge(b, |s| s.memory_alloc).cmp(&gauge(a, |s| s.memory_alloc)))
        }
    }
    rows
}

/// The clients whose id, user name or address contains `filter`, in `sort` order.
pub fn clients<'a>(snapshot: &'a Snapshot, sort: ClientSort, filter: &str) -> Vec<&'a ClientRow> {
    let Some(view) = &snapshot.clients else {
        return Vec::new();
    };
    let mut rows: Vec<&ClientRow> = view
        .rows
        .iter()
        .filter(|c| {
            matches(&c.id, filter) || matches(&c.username, filter) || matches(&c.ip, filter)
        })
        .collect();
    let by_id = |a: &&ClientRow, b: &&ClientRow| a.id.cmp(&b.id).then(a.node.cmp(&b.node));
    match sort {
        ClientSort::BytesRate => {
            rows.sort_by(|a, b| desc(a.bytes_rate(), b.bytes_rate()).then(by_id(a, b)))
        }
        ClientSort::BytesTotal => rows.sort_by(|a, b| {
            (b.bytes_received + b.bytes_sent)
                .cmp(&(a.bytes_received + a.bytes_sent))
                .then(by_id(a, b))
        }),
        // Offline sessions (no current connection) last.
        ClientSort::ConnectedLongest => rows.sort_by(|a, b| {
            b.online
                .cmp(&a.online)
                .then(a.connected_at.cmp(&b.connected_at))
                .then(by_id(a, b))
        }),
        ClientSort::ConnectedNewest => rows.sort_by(|a, b| {
            b.online
                .cmp(&a.online)
                .then(b.connected_at.cmp(&a.connected_at))
                .then(by_id(a, b))
        }),
        ClientSort::ClientId => rows.sort_by(by_id),
    }
    rows
}

/// The subscribed filters containing `filter`, in `sort` order.
pub fn subscriptions<'a>(
    snapshot: &'a Snapshot,
    sort: SubscriptionSort,
    filter: &str,
) -> Vec<&'a SubscriptionRow> {
    let Some(all) = &snapshot.subscriptions else {
        return Vec::new();
    };
    let mut rows: Vec<&SubscriptionRow> =
        all.iter().filter(|s| matches(&s.filter, filter)).collect();
    match sort {
        SubscriptionSort::Count => {
            rows.sort_by(|a, b| b.count.cmp(&a.count).then(a.filter.cmp(&b.filter)))
        }
        SubscriptionSort::Filter => rows.sort_by(|a, b| a.filter.cmp(&b.filter)),
    }
    rows
}

/// The retained messages whose topic contains `filter`, in `sort` order.
pub fn retained<'a>(
    snapshot: &'a Snapshot,
    sort: RetainedSort,
    filter: &str,
) -> Vec<&'a RetainedRow> {
    let Some(view) = &snapshot.retained else {
        return Vec::new();
    };
    let mut rows: Vec<&RetainedRow> = view
        .rows
        .iter()
        .filter(|r| matches(&r.topic, filter))
        .collect();
    match sort {
        RetainedSort::Topic => rows.sort_by(|a, b| a.topic.cmp(&b.topic)),
        RetainedSort::Size => rows.sort_by(|a, b| b.size.cmp(&a.size).then(a.topic.cmp(&b.topic))),
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabs_wrap_both_ways() {
        assert_eq!(View::Overview.next(), View::Clients);
        assert_eq!(View::Retained.next(), View::Overview);
        assert_eq!(View::Overview.previous(), View::Retained);
    }

    #[test]
    fn sort_orders_cycle() {
        let mut s = ClientSort::default();
        assert_eq!(s, ClientSort::BytesRate);
        for _ in 0..ClientSort::ALL.len() {
            s = s.next();
        }
        assert_eq!(s, ClientSort::BytesRate);
        assert_eq!(ClientSort::BytesRate.next().label(), "bytes total");
    }

    #[test]
    fn filters_ignore_ascii_case() {
        assert!(matches("Sensor/42", "sensor"));
        assert!(matches("anything", ""));
        assert!(!matches("pump", "sensor"));
    }
}
