//! Re-authentication with AUTH during a connection (MQTT 5, spec 4.12.1).

use super::*;

impl Link {
    /// Re-authentication (spec 4.12.1): AUTH 0x19 starts a new exchange with the method of
    /// CONNECT, AUTH 0x18 continues it. Without a method at CONNECT, or with another method,
    /// AUTH is a protocol error `[MQTT-4.12.0-7]`, `[MQTT-4.12.1-1]`.
    pub(super) fn on_auth(&mut self, a: Auth) -> Result<(), Close> {
        let Some(name) = self
            .rare
            .as_ref()
            .and_then(|r| r.reauth.as_ref())
            .map(|r| r.method.clone())
        else {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH without authentication at CONNECT",
            ));
        };
        if a.properties.authentication_method.as_ref() != Some(&name) {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH with another authentication method",
            ));
        }
        if a.reason == ReasonCode::RE_AUTHENTICATE {
            let Some(method) = self.broker.auth_method(&name) else {
                return Err(Close::protocol(
                    ReasonCode::BAD_AUTHENTICATION_METHOD,
                    "authentication method no longer available",
                ));
            };
            let exchange = method.begin(&self.client_id);
            if let Some(r) = self.rare.as_mut().and_then(|r| r.reauth.as_mut()) {
                r.exchange = Some(exchange);
            }
        } else if a.reason != ReasonCode::CONTINUE_AUTHENTICATION
            || self
                .rare
                .as_ref()
                .and_then(|r| r.reauth.as_ref())
                .is_none_or(|r| r.exchange.is_none())
        {
            return Err(Close::protocol(
                ReasonCode::PROTOCOL_ERROR,
                "AUTH out of sequence",
            ));
        }
        let step = match self
            .rare
            .as_mut()
            .and_then(|r| r.reauth.as_mut())
            .and_then(|r| r.exchange.as_mut())
        {
            Some(exchange) => exchange.step(a.properties.authentication_data.as_deref()),
            None => AuthStep::Failure,
        };
        let reply = |reason: ReasonCode, data: Option<bytes::Bytes>| {
            let mut auth = Auth {
                reason,
                ..Auth::default()
            };
            auth.properties.authentication_method = Some(name.clone());
            auth.properties.authentication_data = data;
            Packet::Auth(auth)
        };
        match step {
            AuthStep::Continue(data) => {
                self.send(reply(ReasonCode::CONTINUE_AUTHENTICATION, Some(data)))
            }
            AuthStep::Success(data) => {
                if let Some(r) = self.rare.as_mut().and_then(|r| r.reauth.as_mut()) {
                    r.exchange = None;
                }
                self.send(reply(ReasonCode::SUCCESS, data));
            }
            AuthStep::Failure => {
                return Err(Close::protocol(
                    self.broker.capabilities.not_authorized(),
                    "re-authentication failed",
                ));
            }
        }
        Ok(())
    }
}
