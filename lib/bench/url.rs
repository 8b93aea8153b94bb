//! Broker URLs as mqtt-stresser (through paho) takes them: `tcp://host:port` (also `mqtt://`),
//! `ssl://`, `tls://`, `mqtts://`, `ws://host:port/path`, `wss://…` and `quic://` (MQTT over
//! QUIC, comqtt's addition), optionally with
//! `user:password@` before the host. `-broker` may list several, separated by commas.

use std::fmt;

/// How the bytes travel to the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP (`tcp://`, `mqtt://`).
    Tcp,
    /// TLS over TCP (`ssl://`, `tls://`, `mqtts://`, `tcps://`).
    Tls,
    /// WebSocket over TCP (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
    /// MQTT over QUIC (`quic://`): one bidirectional stream, TLS 1.3, ALPN `mqtt`.
    Quic,
}

impl Scheme {
    fn from_name(name: &str) -> Option<Scheme> {
        match name.to_ascii_lowercase().as_str() {
            "tcp" | "mqtt" => Some(Scheme::Tcp),
            "ssl" | "tls" | "mqtts" | "tcps" => Some(Scheme::Tls),
            "ws" => Some(Scheme::Ws),
            "wss" => Some(Scheme::Wss),
            "quic" => Some(Scheme::Quic),
            _ => None,
        }
    }

    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Tcp => 1883,
            Scheme::Tls => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
            // The original's QUIC listener.
            Scheme::Quic => 2000,
        }
    }

    /// True when TLS is involved (`ssl://`, `wss://`, `quic://`, ...).
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Tls | Scheme::Wss | Scheme::Quic)
    }

    /// True for WebSocket transports.
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

/// One broker address from `-broker`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address (without brackets for IPv6).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path of a WebSocket URL (`/` when none is given); empty for TCP and TLS.
    pub path: String,
    /// User name given in the URL (`tcp://user:pass@host`), used when `-username` is empty.
    pub username: Option<String>,
    /// Password given in the URL.
    pub password: Option<String>,
    /// The URL as written, for messages.
    text: String,
}

/// Why a `-broker` value is not a broker URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `scheme://`.
    #[error("{0:?} has no scheme: write it as tcp://HOST:PORT (or ssl://, tls://, ws://, wss://)")]
    NoScheme(String),
    /// A scheme we do not speak.
    #[error(
        "{url:?}: unsupported scheme {scheme:?} (use tcp://, mqtt://, ssl://, tls://, mqtts://, ws:// or wss://)"
    )]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// Nothing between `://` and the port or path.
    #[error("{0:?} has no host")]
    NoHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("{url:?}: {port:?} is not a port number (1-65535)")]
    Port {
        /// The URL.
        url: String,
        /// The port text.
        port: String,
    },
}

impl BrokerUrl {
    /// Parses one URL.
    pub fn parse(text: &str) -> Result<BrokerUrl, UrlError> {
        let text = text.trim();
        let (scheme_name, rest) = text
            .split_once("://")
            .ok_or_else(|| UrlError::NoScheme(text.to_string()))?;
        let scheme = Scheme::from_name(scheme_name).ok_or_else(|| UrlError::Scheme {
            url: text.to_string(),
            scheme: scheme_name.to_string(),
        })?;
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(info.to_string()), None),
            },
        };
        let (host, port_text) = if let Some(stripped) = hostport.strip_prefix('[') {
            // [IPv6]:port
            let end = stripped
                .find(']')
                .ok_or_else(|| UrlError::NoHost(text.to_string()))?;
            let after = &stripped[end + 1..];
            (&stripped[..end], after.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::NoHost(text.to_string()));
        }
        let port = match port_text {
            None | Some("") => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(UrlError::Port {
                        url: text.to_string(),
                        port: p.to_string(),
                    });
                }
            },
        };
        let path = if scheme.is_websocket() {
            if path.is_empty() {
                "/".to_string()
            } else {
                path.to_string()
            }
        } else {
            String::new()
        };
        Ok(BrokerUrl {
            scheme,
            host: host.to_string(),
            port,
            path,
            username,
            password,
            text: text.to_string(),
        })
    }

    /// Parses a comma-separated list (at least one URL).
    pub fn parse_list(text: &str) -> Result<Vec<BrokerUrl>, UrlError> {
        let urls = text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(BrokerUrl::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err(UrlError::NoScheme(text.to_string()));
        }
        Ok(urls)
    }

    /// `host:port` as the resolver wants it (IPv6 in brackets).
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The `ws://` / `wss://` URI of the WebSocket handshake.
    pub fn websocket_uri(&self) -> String {
        let scheme = if self.scheme == Scheme::Wss {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}{}", self.host_port(), self.path)
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_ports_and_paths() {
        let u = BrokerUrl::parse("tcp://localhost:1883").unwrap();
        assert_eq!(
            (u.scheme, u.host.as_str(), u.port, u.path.as_str()),
            (Scheme::Tcp, "localhost", 1883, "")
        );
        assert_eq!(BrokerUrl::parse("ssl://h").unwrap().port, 8883);
        assert_eq!(BrokerUrl::parse("tls://h:9").unwrap().scheme, Scheme::Tls);
        let ws = BrokerUrl::parse("ws://h:8080/mqtt").unwrap();
        assert_eq!((ws.scheme, ws.path.as_str()), (Scheme::Ws, "/mqtt"));
        assert_eq!(ws.websocket_uri(), "ws://h:8080/mqtt");
        assert_eq!(
            BrokerUrl::parse("wss://h").unwrap().websocket_uri(),
            "wss://h:443/"
        );
        let v6 = BrokerUrl::parse("tcp://[::1]:1884").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.port, v6.host_port().as_str()),
            ("::1", 1884, "[::1]:1884")
        );
        let creds = BrokerUrl::parse("tcp://bob:secret@h:1").unwrap();
        assert_eq!(
            (creds.username.as_deref(), creds.password.as_deref()),
            (Some("bob"), Some("secret"))
        );
    }

    #[test]
    fn lists_and_errors() {
        assert_eq!(
            BrokerUrl::parse_list("tcp://a:1, tcp://b:2").unwrap().len(),
            2
        );
        assert!(matches!(
            BrokerUrl::parse("localhost:1883"),
            Err(UrlError::NoScheme(_))
        ));
        assert!(matches!(
            BrokerUrl::parse("http://h"),
            Err(UrlError::Scheme { .. })
        ));
        assert!(matches!(
            BrokerUrl::parse("tcp://h:99999"),
            Err(UrlError::Port { .. })
        ));
        assert!(matches!(
            BrokerUrl::parse("tcp://:1883"),
            Err(UrlError::NoHost(_))
        ));
    }
}
