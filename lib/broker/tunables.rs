//! Settings a reload changes while clients stay connected ([`crate::reload`]): the per-client
//! inbound rates and the `$SYS` interval. Read where they apply (a connection at CONNECT and
//! when told they changed, the housekeeping tick each second), written by a reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;

use super::rate_limit::Rates;

/// The live settings.
#[derive(Debug, Default)]
pub struct Tunables {
    /// Each client's inbound rates (`mqtt.options.limits.client-*`).
    rates: RwLock<Rates>,
    /// Seconds between `$SYS` updates (0: none).
    sys_interval: AtomicU64,
}

impl Tunables {
    /// Settings starting at `rates` and `sys_interval`.
    pub fn new(rates: Rates, sys_interval: Duration) -> Tunables {
        Tunables {
            rates: RwLock::new(rates),
            sys_interval: AtomicU64::new(sys_interval.as_secs()),
        }
    }

    /// The per-client rates in force.
    pub fn rates(&self) -> Rates {
        *self.rates.read()
    }

    /// Replaces the per-client rates; true if they changed.
    pub fn set_rates(&self, rates: Rates) -> bool {
        let mut r = self.rates.write();
        let changed = *r != rates;
        *r = rates;
        changed
    }

    /// The `$SYS` interval in force.
    pub fn sys_interval(&self) -> Duration {
        Duration::from_secs(self.sys_interval.load(Ordering::Relaxed))
    }

    /// Replaces the `$SYS` interval.
    pub fn set_sys_interval(&self, interval: Duration) {
        self.sys_interval
            .store(interval.as_secs(), Ordering::Relaxed);
    }
}
