//! What can go wrong in comqtt-top. A node that cannot be reached is not fatal to the TUI: its
//! error is shown in its row and it is asked again next round. In `--once` mode, no reachable
//! node at all is an error naming every address tried.

/// comqtt-top's errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TopError {
    /// A `--http` value that is not a node address.
    #[error("{value:?} is not a node address ({why}): write HOST:PORT or http://HOST:PORT")]
    BadAddress {
        /// The value as given.
        value: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// An `--interval` out of range.
    #[error("--interval {0} is out of range: between 100ms and 1h")]
    BadInterval(String),
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    Client(String),
    /// The node did not answer: connection refused, timeout, reset.
    #[error("{addr} is unreachable: {reason}")]
    Unreachable {
        /// The node's `host:port`.
        addr: String,
        /// Why, in a few words (the innermost cause).
        reason: String,
    },
    /// The node answered with an error status.
    #[error("{addr}: GET {path} answered HTTP {status}")]
    Status {
        /// The node's `host:port`.
        addr: String,
        /// The route asked.
        path: String,
        /// The HTTP status.
        status: u16,
    },
    /// The node answered something that is not what the API answers.
    #[error("{addr}: GET {path}: unexpected answer: {reason}")]
    BadResponse {
        /// The node's `host:port`.
        addr: String,
        /// The route asked.
        path: String,
        /// What did not parse.
        reason: String,
    },
    /// `--once`: no node answered.
    #[error("no node could be reached: {0}")]
    NoNodeReachable(String),
    /// The terminal could not be set up, drawn to or read.
    #[error("terminal: {0}")]
    Terminal(String),
    /// A panic happened while the TUI ran (the terminal was restored, the panic printed).
    #[error("comqtt-top panicked (see the message above)")]
    Panicked,
}

impl TopError {
    /// The message shown in a node's row: what happened, without repeating the address.
    pub fn short(&self) -> String {
        match self {
            TopError::Unreachable { reason, .. } => format!("unreachable: {reason}"),
            TopError::Status { path, status, .. } => format!("GET {path} answered HTTP {status}"),
            TopError::BadResponse { path, reason, .. } => {
                format!("GET {path}: unexpected answer: {reason}")
            }
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for TopError {
    fn from(e: std::io::Error) -> TopError {
        TopError::Terminal(e.to_string())
    }
}
