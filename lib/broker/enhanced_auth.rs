//! Enhanced authentication (MQTT 5.0, spec 4.12): the hook an authentication method plugs
//! into. A client names a method in CONNECT; the broker runs the method's exchange, one
//! [`AuthExchange::step`] per AUTH packet, before CONNACK, and again when the client asks to
//! re-authenticate (AUTH 0x19). A method nobody registered gets 0x8C Bad authentication method.

use std::sync::Arc;

use bytes::Bytes;

/// What one step of an exchange decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthStep {
    /// More is needed: send this data in AUTH 0x18 Continue authentication.
    Continue(Bytes),
    /// Authenticated; optional data for the client in CONNACK (or AUTH 0x00 on re-authentication).
    Success(Option<Bytes>),
    /// Refused: CONNACK 0x87 Not authorized (DISCONNECT 0x87 on re-authentication).
    Failure,
}

/// An authentication method (SCRAM, Kerberos, a token scheme...).
pub trait EnhancedAuth: Send + Sync + 'static {
    /// The name clients put in the Authentication Method property.
    fn method(&self) -> &str;
    /// Starts an exchange for one client.
    fn begin(&self, client_id: &str) -> Box<dyn AuthExchange>;
}

/// One client's exchange with a method.
pub trait AuthExchange: Send {
    /// Takes the client's Authentication Data (from CONNECT or AUTH) and decides.
    fn step(&mut self, data: Option<&[u8]>) -> AuthStep;
}

/// The methods registered with a broker.
#[derive(Default, Clone)]
pub struct AuthMethods(Vec<Arc<dyn EnhancedAuth>>);

impl AuthMethods {
    /// Adds a method (a later one with the same name wins).
    pub fn register(&mut self, method: Arc<dyn EnhancedAuth>) {
        self.0.retain(|m| m.method() != method.method());
        self.0.push(method);
    }

    /// The method called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn EnhancedAuth>> {
        self.0.iter().find(|m| m.method() == name)
    }
}

impl std::fmt::Debug for AuthMethods {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|m| m.method().to_string()))
            .finish()
    }
}
