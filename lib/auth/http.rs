//! The HTTP datasource (`auth.datasource: 4`, `auth-http.yml`): an operator's web service
//! decides, as in the original.
//!
//! - password check: `GET <auth-url>?user=<key>&password=<password>` (URL-encoded), or `POST`
//!   of `{"user", "password"}` as JSON or a form; a 2xx answer whose body is `1` accepts,
//!   any other 2xx or 4xx answer refuses (0x86), a 5xx or no answer is "server unavailable".
//! - ACL: the same request with `user` only; the answer is JSON `{"filter": access, ...}`.
//!
//! Requests also carry `clientid` and `username` (the original sends `user` only), so a
//! service can tell the client apart when the key is the user name.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::access::{Access, Rules};
use super::datasource::{Modes, PasswordCheck, nullable, parse_file};
use super::{AuthError, Credentials};

/// `auth-http.yml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpAuthConfig {
    /// 0 allow all, 1 user name, 2 client id (default: the top-level `auth.way`).
    pub auth_mode: Option<u8>,
    /// 0 allow all, 1 user name, 2 client id (default: `auth-mode`).
    pub acl_mode: Option<u8>,
    /// The original's switches for a client certificate, which its code never used; here a
    /// `tls-cert` + `tls-key` pair is sent as the client certificate to `https://` URLs.
    pub tls_enable: bool,
    #[serde(deserialize_with = "nullable")]
    pub tls_cert: String,
    #[serde(deserialize_with = "nullable")]
    pub tls_key: String,
    /// `get` or `post`.
    pub method: String,
    /// `application/json` or `application/x-www-form-urlencoded` (POST).
    pub content_type: String,
    /// Where passwords are checked.
    #[serde(deserialize_with = "nullable")]
    pub auth_url: String,
    /// Where ACL rules come from.
    #[serde(deserialize_with = "nullable")]
    pub acl_url: String,
}

impl Default for HttpAuthConfig {
    fn default() -> Self {
        HttpAuthConfig {
            auth_mode: None,
            acl_mode: None,
            tls_enable: false,
            tls_cert: String::new(),
            tls_key: String::new(),
            method: "post".into(),
            content_type: JSON.into(),
            auth_url: String::new(),
            acl_url: String::new(),
        }
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// How long the service may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP datasource's client.
pub struct HttpSource {
    client: reqwest::Client,
    get: bool,
    json: bool,
    auth_url: String,
    acl_url: String,
}

impl HttpSource {
    /// Reads and checks `auth-http.yml`.
    pub fn config(path: &Path, way: u8) -> Result<(HttpAuthConfig, Modes), AuthError> {
        let c: HttpAuthConfig = parse_file(path)?;
        let modes = Modes::resolve(path, way, c.auth_mode, c.acl_mode, 0, "")?;
        let bad = |message: String| AuthError::Config {
            path: path.to_path_buf(),
            message,
        };
        if !matches!(c.method.to_ascii_lowercase().as_str(), "get" | "post") {
            return Err(bad(format!(
                "method: {:?} is not allowed (get or post)",
                c.method
            )));
        }
        if ![JSON, FORM].contains(&c.content_type.as_str()) {
            return Err(bad(format!(
                "content-type: {:?} is not allowed ({JSON} or {FORM})",
                c.content_type
            )));
        }
        for (key, url, needed) in [
            (
                "auth-url",
                &c.auth_url,
                modes.auth != super::KeyMode::Anyone,
            ),
            ("acl-url", &c.acl_url, modes.acl != super::KeyMode::Anyone),
        ] {
            if needed && reqwest::Url::parse(url).is_err() {
                return Err(bad(format!(
                    "{key}: {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        if c.tls_enable && c.tls_cert.is_empty() != c.tls_key.is_empty() {
            return Err(bad("tls-cert and tls-key go together".into()));
        }
        Ok((c, modes))
    }

    /// Builds the client (no request is made until the first CONNECT).
    pub fn open(c: &HttpAuthConfig) -> Result<HttpSource, AuthError> {
        let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
        if c.tls_enable && !c.tls_cert.is_empty() {
            let read = |p: &str| {
                std::fs::read(p).map_err(|source| AuthError::Read {
                    path: p.into(),
                    source,
                })
            };
            let mut pem = read(&c.tls_cert)?;
            pem.extend(read(&c.tls_key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| AuthError::Config {
                path: c.tls_cert.clone().into(),
                message: format!("client certificate and key: {e}"),
            })?;
            builder = builder.identity(identity);
        }
        let client = builder.build().map_err(|e| AuthError::Unreachable {
            datasource: "http",
            location: c.auth_url.clone(),
            reason: e.to_string(),
        })?;
        Ok(HttpSource {
            client,
            get: c.method.eq_ignore_ascii_case("get"),
            json: c.content_type == JSON,
            auth_url: c.auth_url.clone(),
            acl_url: c.acl_url.clone(),
        })
    }

    async fn ask(&self, url: &str, fields: &[(&str, &str)]) -> Result<(u16, String), AuthError> {
        let request = if self.get {
            self.client.get(url).query(fields)
        } else if self.json {
            let body: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                .collect();
            self.client.post(url).json(&body)
        } else {
            self.client.post(url).form(fields)
        };
        let failed = |reason: String| AuthError::Unreachable {
            datasource: "http",
            location: url.to_string(),
            reason,
        };
        let response = request.send().await.map_err(|e| failed(e.to_string()))?;
        let status = response.status().as_u16();
        if status >= 500 {
            return Err(failed(format!("answered {status}")));
        }
        let body = response.text().await.map_err(|e| failed(e.to_string()))?;
        Ok((status, body))
    }

    /// Asks the service whether `password` is right for `key`.
    pub async fn check_password(
        &self,
        key: &str,
        c: &Credentials<'_>,
    ) -> Result<PasswordCheck, AuthError> {
        let password = String::from_utf8_lossy(c.password.unwrap_or_default());
        let fields = [
            ("user", key),
            ("password", &password),
            ("clientid", c.client_id),
            ("username", c.username.unwrap_or_default()),
        ];
        let (status, body) = self.ask(&self.auth_url, &fields).await?;
        Ok(if (200..300).contains(&status) && body.trim() == "1" {
            PasswordCheck::Accepted
        } else {
            PasswordCheck::Wrong
        })
    }

    /// Asks the service for the ACL rules of `key`.
    pub async fn rules(&self, key: &str, c: &Credentials<'_>) -> Result<Rules, AuthError> {
        let fields = [
            ("user", key),
            ("clientid", c.client_id),
            ("username", c.username.unwrap_or_default()),
        ];
        let (status, body) = self.ask(&self.acl_url, &fields).await?;
        if !(200..300).contains(&status) {
            return Ok(Vec::new());
        }
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&body).map_err(|e| AuthError::Unreachable {
                datasource: "http",
                location: self.acl_url.clone(),
                reason: format!("ACL answer is not a JSON object of filter: access ({e})"),
            })?;
        let mut rules = Vec::with_capacity(map.len());
        for (filter, access) in map {
            let code = access
                .as_i64()
                .or_else(|| access.as_str().and_then(|s| s.trim().parse().ok()));
            match code.and_then(Access::from_code) {
                Some(a) => rules.push((filter, a)),
                None => {
                    tracing::warn!(url = %self.acl_url, filter, %access, "ACL access is not 0..3; rule ignored")
                }
            }
        }
        Ok(rules)
    }
}
