//! The cluster secret (`cluster.secret`, `--cluster-secret`, `COMQTT_CLUSTER_SECRET`): when set,
//! every gRPC request between nodes and from comqttctl carries it
//! (`authorization: Bearer <secret>`), and every node refuses requests without it
//! (`Unauthenticated`). Without one, anyone who reaches the raft and gRPC ports can act as a
//! node, as in the original: keep them on a private network. The same value carries the
//! cluster's TLS ([`ClusterTls`]) when it is on: together, what a node shows another.

use std::sync::Arc;

use super::tls::ClusterTls;
use crate::auth::password::constant_time_eq;

use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The secret, if one is set, and the cluster's TLS.
#[derive(Clone, Default)]
pub struct Secret(Option<Arc<str>>, ClusterTls);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Secret(<set>)"
        } else {
            "Secret(none)"
        })
    }
}

impl Secret {
    /// `secret`, or none when empty.
    pub fn new(secret: &str) -> Secret {
        Secret(
            (!secret.is_empty()).then(|| secret.into()),
            ClusterTls::off(),
        )
    }

    /// The same, connecting over `tls`.
    pub fn with_tls(self, tls: ClusterTls) -> Secret {
        Secret(self.0, tls)
    }

    /// The cluster's TLS (off unless configured).
    pub fn tls(&self) -> &ClusterTls {
        &self.1
    }

    /// True when one is set.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Adds the secret to an outgoing request.
    pub fn sign<T>(&self, request: &mut Request<T>) {
        if let Some(s) = &self.0
            && let Ok(v) = MetadataValue::try_from(format!("Bearer {s}"))
        {
            request.metadata_mut().insert("authorization", v);
        }
    }

    /// `request` with the secret.
    pub fn signed<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        self.sign(&mut request);
        request
    }

    /// The server side: lets through a request that carries the secret (everything when none
    /// is set).
    pub fn check(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.0 else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        match given {
            Some(g) if constant_time_eq(g.as_bytes(), expected.as_bytes()) => Ok(request),
            _ => Err(Status::unauthenticated(
                "this cluster needs its secret (cluster.secret, --cluster-secret, COMQTT_CLUSTER_SECRET)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_requests_pass_and_others_are_refused() {
        let s = Secret::new("s3cret");
        let ok = s.signed(());
        assert!(s.check(ok).is_ok());
        assert_eq!(
            s.check(Request::new(())).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(s.check(Secret::new("other").signed(())).is_err());
        assert!(
            Secret::default().check(Request::new(())).is_ok(),
            "no secret: open"
        );
    }
}
