//! Node addresses. `--http` takes `HOST:PORT`, `:PORT` (this machine), or a URL
//! `http://HOST:PORT` / `https://HOST:PORT`. Addresses a node lists for its peers may name an
//! unspecified host (`0.0.0.0:8080`, `[::]:8080`, `:8080`, a node bound to every interface):
//! those are reached through the host of the node that listed them.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::error::TopError;

/// Where a node's HTTP API answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    /// `http` or `https`.
    scheme: &'static str,
    /// Host name or IP (IPv6 without brackets).
    host: String,
    /// TCP port.
    port: u16,
}

impl NodeAddr {
    /// `scheme://host:port`, to which API paths are appended.
    pub fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.host_port())
    }

    /// `host:port` (IPv6 in brackets), as shown to the user.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The host part.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// An address a node listed (`host:port`, host possibly unspecified or empty), made
    /// reachable from here: an unspecified host is replaced by the host of `via`, the node that
    /// listed it, and the scheme is `via`'s.
    pub fn listed_by(listed: &str, via: &NodeAddr) -> Result<NodeAddr, TopError> {
        let mut addr = NodeAddr::from_str(listed)?;
        addr.scheme = via.scheme;
        let unspecified = listed.trim().starts_with(':')
            || addr
                .host
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_unspecified());
        if unspecified {
            addr.host = via.host.clone();
        }
        Ok(addr)
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scheme == "https" {
            write!(f, "https://{}", self.host_port())
        } else {
            f.write_str(&self.host_port())
        }
    }
}

impl FromStr for NodeAddr {
    type Err = TopError;

    fn from_str(value: &str) -> Result<NodeAddr, TopError> {
        let bad = |why| TopError::BadAddress {
            value: value.to_string(),
            why,
        };
        let text = value.trim();
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("http://") {
            ("http", rest)
        } else if let Some(rest) = text.strip_prefix("https://") {
            ("https", rest)
        } else if text.contains("://") {
            return Err(bad("only http:// and https:// are spoken"));
        } else {
            ("http", text)
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(bad("no path: the API's routes are added by comqtt-top"));
        }
        if rest.is_empty() {
            return Err(bad("empty"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            let port = after
                .strip_prefix(':')
                .ok_or_else(|| bad("a port is needed"))?;
            (host.to_string(), port)
        } else {
            let (host, port) = rest
                .rsplit_once(':')
                .ok_or_else(|| bad("a port is needed"))?;
            if host.contains(':') {
                return Err(bad("put an IPv6 address in brackets: [::1]:8080"));
            }
            (host.to_string(), port)
        };
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
        let host = if host.is_empty() && scheme == "http" && !text.contains("://") {
            // `:8080`, as the broker's --http takes it: this machine.
            "127.0.0.1".to_string()
        } else {
            host
        };
        Ok(NodeAddr { scheme, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> NodeAddr {
        s.parse().unwrap()
    }

    #[test]
    fn host_port_url_and_bare_port() {
        assert_eq!(addr("127.0.0.1:8080").base_url(), "http://127.0.0.1:8080");
        assert_eq!(addr("http://node1:8080/").base_url(), "http://node1:8080");
        assert_eq!(addr("https://node1:8443").to_string(), "https://node1:8443");
        assert_eq!(addr(":8080").host_port(), "127.0.0.1:8080");
        assert_eq!(addr("[::1]:8080").base_url(), "http://[::1]:8080");
    }

    #[test]
    fn bad_addresses_say_why() {
        for (value, needle) in [
            ("node1", "a port is needed"),
            ("node1:0", "1 to 65535"),
            ("node1:http", "1 to 65535"),
            ("ftp://node1:21", "only http"),
            ("http://node1:8080/api", "no path"),
            ("::1:8080", "brackets"),
            ("", "empty"),
        ] {
            let e = value.parse::<NodeAddr>().unwrap_err().to_string();
            assert!(e.contains(needle), "{value:?}: {e}");
            assert!(e.contains(&format!("{value:?}")), "{e}");
        }
    }

    #[test]
    fn listed_unspecified_hosts_are_reached_through_the_lister() {
        let via = addr("10.1.2.3:8080");
        assert_eq!(
            NodeAddr::listed_by("0.0.0.0:8081", &via)
                .unwrap()
                .host_port(),
            "10.1.2.3:8081"
        );
        assert_eq!(
            NodeAddr::listed_by("[::]:8082", &via).unwrap().host_port(),
            "10.1.2.3:8082"
        );
        assert_eq!(
            NodeAddr::listed_by(":8083", &via).unwrap().host_port(),
            "10.1.2.3:8083"
        );
        assert_eq!(
            NodeAddr::listed_by("10.9.9.9:8080", &via)
                .unwrap()
                .host_port(),
            "10.9.9.9:8080"
        );
    }
}
