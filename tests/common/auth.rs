//! Helpers of the authentication tests: CONNECT with credentials and read the CONNACK code,
//! and a broker started with an `auth:` setup.

use comqtt::mqtt::{Connect, Protocol, ReasonCode};

use super::{BrokerProcess, TestClient};

/// A CONNECT of `client_id` with optional user name and password.
pub fn connect_packet(
    protocol: Protocol,
    client_id: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> Connect {
    let mut c = Connect::new(protocol, client_id);
    c.username = username.map(Into::into);
    c.password = password.map(|p| bytes::Bytes::copy_from_slice(p.as_bytes()));
    c
}

/// Connects and returns the CONNACK code (and the client, for one that got in).
pub async fn connect_code(
    addr: &str,
    protocol: Protocol,
    client_id: &str,
    username: Option<&str>,
    password: Option<&str>,
) -> (ReasonCode, TestClient) {
    let (c, ack) = TestClient::connect_with(
        addr,
        connect_packet(protocol, client_id, username, password),
    )
    .await;
    (ack.code, c)
}

/// Connects and asserts success.
pub async fn login(
    addr: &str,
    protocol: Protocol,
    client_id: &str,
    user: &str,
    password: &str,
) -> TestClient {
    let (code, c) = connect_code(addr, protocol, client_id, Some(user), Some(password)).await;
    assert_eq!(code, ReasonCode::SUCCESS, "CONNACK of {client_id} ({user})");
    c
}

/// Starts `comqtt serve` with `--auth-way WAY --auth-ds DS --auth-path PATH` and extra flags.
pub fn broker_with_auth(way: u8, datasource: u8, path: &str, extra: &[&str]) -> BrokerProcess {
    let (way, datasource) = (way.to_string(), datasource.to_string());
    let mut args = vec![
        "--auth-way",
        way.as_str(),
        "--auth-ds",
        datasource.as_str(),
        "--auth-path",
        path,
    ];
    args.extend_from_slice(extra);
    BrokerProcess::start(&args)
}

/// What `comqtt serve` says when it refuses to start with authentication on (`--auth-way 1`)
/// from datasource `datasource` configured by `path`.
pub fn refused_with_auth(datasource: u8, path: &str) -> String {
    let datasource = datasource.to_string();
    super::serve_refused(&[
        "--storage-way",
        "0",
        "--auth-way",
        "1",
        "--auth-ds",
        datasource.as_str(),
        "--auth-path",
        path,
    ])
}
