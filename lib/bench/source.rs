//! Source addresses of outgoing connections. Towards one broker address a local IP has only
//! the ephemeral port range (about 28,000 ports on Linux), so large connection counts spread
//! their sockets over several local addresses: `-source-addresses 127.0.0.1-127.0.0.20` (ranges
//! and single addresses, comma-separated), or automatically 127.0.0.x when the broker is on
//! the IPv4 loopback and a run opens more than [`PORTS_PER_ADDRESS`] connections.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections given to one source address before another is used.
pub const PORTS_PER_ADDRESS: u64 = 25_000;

/// Most addresses one `-source-addresses` range may expand to.
const MAX_ADDRESSES: u64 = 65_536;

/// Why a `-source-addresses` value is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Not an IP address.
    #[error("{0:?} is not an IP address")]
    NotAnAddress(String),
    /// `a-b` where the ends are not both IPv4 or `a` > `b`.
    #[error("{0:?} is not a range: write FIRST-LAST with two IPv4 addresses, FIRST <= LAST")]
    BadRange(String),
    /// More than 65,536 addresses.
    #[error("{0:?} expands to more than 65536 addresses")]
    TooMany(String),
    /// Nothing given.
    #[error("no address given")]
    Empty,
}

/// The local addresses connections are bound to, handed out round-robin.
#[derive(Debug)]
pub struct SourceAddresses {
    /// The addresses.
    addrs: Vec<IpAddr>,
    /// Index of the next one to hand out.
    next: AtomicUsize,
}

impl SourceAddresses {
    /// The addresses of a `-source-addresses` value: `127.0.0.1-127.0.0.20,10.0.0.5,::1`.
    pub fn parse(spec: &str) -> Result<Vec<IpAddr>, SourceError> {
        let mut addrs = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                None => addrs.push(
                    part.parse::<IpAddr>()
                        .map_err(|_| SourceError::NotAnAddress(part.to_string()))?,
                ),
                Some((first, last)) => {
                    let range_err = || SourceError::BadRange(part.to_string());
                    let first: Ipv4Addr = first.trim().parse().map_err(|_| range_err())?;
                    let last: Ipv4Addr = last.trim().parse().map_err(|_| range_err())?;
                    let (a, b) = (u32::from(first), u32::from(last));
                    if a > b {
                        return Err(range_err());
                    }
                    if u64::from(b - a) + 1 + addrs.len() as u64 > MAX_ADDRESSES {
                        return Err(SourceError::TooMany(part.to_string()));
                    }
                    addrs.extend((a..=b).map(|n| IpAddr::V4(Ipv4Addr::from(n))));
                }
            }
        }
        if addrs.is_empty() {
            return Err(SourceError::Empty);
        }
        Ok(addrs)
    }

    /// 127.0.0.1, 127.0.0.2, ... enough for `connections` when the broker is on the IPv4
    /// loopback and one address would run out of ports; `None` otherwise.
    pub fn automatic(broker: SocketAddr, connections: u64) -> Option<Vec<IpAddr>> {
        let IpAddr::V4(ip) = broker.ip() else {
            return None;
        };
        if !ip.is_loopback() || connections <= PORTS_PER_ADDRESS {
            return None;
        }
        let count = connections.div_ceil(PORTS_PER_ADDRESS).min(250) as u8;
        Some(
            (1..=count)
                .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)))
                .collect(),
        )
    }

    /// Hands out `addrs` round-robin.
    pub fn new(addrs: Vec<IpAddr>) -> SourceAddresses {
        SourceAddresses {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    /// The address for the next connection of the given family (IPv4 or IPv6 broker), if any
    /// address of that family was given.
    pub fn next_for(&self, broker: &SocketAddr) -> Option<IpAddr> {
        let n = self.addrs.len();
        for _ in 0..n {
            let ip = self.addrs[self.next.fetch_add(1, Ordering::Relaxed) % n];
            if ip.is_ipv4() == broker.is_ipv4() {
                return Some(ip);
            }
        }
        None
    }

    /// How many addresses there are.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// True if there is none.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_lists() {
        let a = SourceAddresses::parse("127.0.0.1-127.0.0.3, 10.0.0.9").unwrap();
        assert_eq!(a.len(), 4);
        assert_eq!(a[2], "127.0.0.3".parse::<IpAddr>().unwrap());
        assert!(matches!(
            SourceAddresses::parse("127.0.0.3-127.0.0.1"),
            Err(SourceError::BadRange(_))
        ));
        assert!(matches!(
            SourceAddresses::parse("nope"),
            Err(SourceError::NotAnAddress(_))
        ));
        assert!(matches!(
            SourceAddresses::parse(""),
            Err(SourceError::Empty)
        ));
    }

    #[test]
    fn automatic_only_for_many_loopback_connections() {
        let lo: SocketAddr = "127.0.0.1:1883".parse().unwrap();
        assert_eq!(SourceAddresses::automatic(lo, 1000), None);
        assert_eq!(SourceAddresses::automatic(lo, 60_000).unwrap().len(), 3);
        assert_eq!(
            SourceAddresses::automatic("10.0.0.1:1883".parse().unwrap(), 60_000),
            None
        );
    }
}
