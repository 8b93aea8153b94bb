//! The web dashboard, on the HTTP API's port under `/dashboard/` (`dashboard-enable`): a
//! single page (HTML, JavaScript and CSS embedded in the binary, no framework, charts drawn as
//! SVG) that shows the node and the cluster through the HTTP API's own routes and acts through
//! them too, so it can do nothing the API would not let its user do.
//!
//! | file | owns |
//! | --- | --- |
//! | [`users`] | the users file (`dashboard.users-file`, the original's JSON): bcrypt, roles, lockout |
//! | [`session`] | the signed session cookie (`dashboard.secret-file`) and its CSRF token |
//! | `assets/` | the page itself |
//!
//! Routes: `GET /dashboard/` (the page, `app.js`, `app.css`), `POST /dashboard/login`
//! `{username, password}`, `POST /dashboard/logout`, `GET /dashboard/me`, `POST
//! /dashboard/profile/password` `{current, new}`. An admin's session (with its CSRF header)
//! stands for the API token on the API's mutating routes; a viewer's does not.

pub mod session;
pub mod users;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::ApiState;
use super::error::ApiError;
use session::{COOKIE, CSRF_HEADER, Claims, Signer};
use users::{ChangeError, LoginError, Role, UserRecord, Users};

/// Why the dashboard cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The users file.
    #[error(transparent)]
    Users(#[from] users::UsersError),
    /// The secret file.
    #[error(transparent)]
    Key(#[from] session::KeyError),
}

/// The dashboard's users and sessions.
#[derive(Debug)]
pub struct Dashboard {
    /// Who may log in.
    pub users: Users,
    signer: Signer,
    /// Password checks (bcrypt, tens of milliseconds of CPU each) run two at a time at most,
    /// so a flood of logins cannot take the broker's CPU.
    checks: tokio::sync::Semaphore,
}

/// A logged-in request.
#[derive(Debug, Clone)]
pub struct Session {
    /// What the cookie says.
    pub claims: Claims,
    /// The user as the file says now.
    pub user: UserRecord,
}

impl Session {
    /// The user's role now.
    pub fn role(&self) -> Role {
        Role::of(&self.user.role)
    }
}

impl Dashboard {
    /// The dashboard of `users_file` and `secret_file` (empty: a random key; the second value
    /// says so).
    pub fn open(users_file: &str, secret_file: &str) -> Result<(Dashboard, bool), DashboardError> {
        let users = Users::load(std::path::Path::new(users_file))?;
        let (signer, random_key) = Signer::new(secret_file)?;
        Ok((
            Dashboard {
                users,
                signer,
                checks: tokio::sync::Semaphore::new(2),
            },
            random_key,
        ))
    }

    /// The valid session of a request, if any: signed here, not expired or logged out, and
    /// issued after the user's password was last set.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let value = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(|h| session::cookie_value(h, COOKIE))?;
        let claims = self.signer.check(value, users::now())?;
        let user = self.users.get(&claims.u)?;
        (user.password_set_at == claims.s).then_some(Session { claims, user })
    }

    /// Whether a mutating request of the HTTP API is allowed by its session: an admin's, whose
    /// password need not change first, with the session's CSRF token in `X-Comqtt-Csrf`.
    pub fn authorizes(&self, headers: &HeaderMap) -> bool {
        let Some(s) = self.session(headers) else {
            return false;
        };
        let csrf = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        s.role() == Role::Admin && !s.user.must_change && self.signer.csrf_matches(&s.claims, csrf)
    }

    /// The session of a request, or 401.
    fn logged_in(&self, headers: &HeaderMap) -> Result<Session, ApiError> {
        self.session(headers).ok_or(ApiError::Rejected {
            status: StatusCode::UNAUTHORIZED,
            message: "not logged in".into(),
        })
    }

    /// A new session of `user`: its cookie, and who is logged in as the body.
    fn new_session(&self, user: UserRecord, node: &str) -> Result<Response, ApiError> {
        let (value, claims) = self
            .signer
            .issue(&user.username, user.password_set_at, users::now())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let session = Session { claims, user };
        let mut response = Json(self.me(&session, node)).into_response();
        response.headers_mut().insert(
            header::SET_COOKIE,
            set_cookie(&value, session::SESSION_SECONDS),
        );
        Ok(response)
    }

    fn me(&self, s: &Session, node: &str) -> serde_json::Value {
        json!({
            "username": s.user.username,
            "role": s.role().name(),
            "must_change": s.user.must_change,
            "csrf": self.signer.csrf(&s.claims),
            "node": node,
        })
    }
}

fn dashboard(api: &ApiState) -> Result<&Arc<Dashboard>, ApiError> {
    api.settings
        .dashboard
        .as_ref()
        .ok_or_else(|| ApiError::NoRoute("/dashboard/".into()))
}

/// A `Set-Cookie` for a session (or its removal).
fn set_cookie(value: &str, max_age: u64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Headers of every page asset: no caching, no framing, scripts only from here.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /dashboard` → `/dashboard/`.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/dashboard/")
}

/// `GET /dashboard/`: the page.
pub async fn index(State(api): State<ApiState>) -> Result<Response, ApiError> {
    dashboard(&api)?;
    Ok(asset(
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ))
}

/// `GET /dashboard/app.js`.
pub async fn script(State(api): State<ApiState>) -> Result<Response, ApiError> {
    dashboard(&api)?;
    Ok(asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    ))
}

/// `GET /dashboard/app.css`.
pub async fn style(State(api): State<ApiState>) -> Result<Response, ApiError> {
    dashboard(&api)?;
    Ok(asset(
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ))
}

/// The body of `POST /dashboard/login`.
#[derive(Debug, Deserialize)]
pub struct Login {
    username: String,
    password: String,
}

/// `POST /dashboard/login`: a session cookie and `{username, role, must_change, csrf}`; 401
/// for a wrong user name or password, 423 while locked out.
pub async fn login(
    State(api): State<ApiState>,
    Json(body): Json<Login>,
) -> Result<Response, ApiError> {
    let d = dashboard(&api)?.clone();
    let name = body.username.clone();
    let checked = {
        let _turn = d.checks.acquire().await;
        let d = d.clone();
        tokio::task::spawn_blocking(move || d.users.login(&body.username, &body.password))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let user = match checked {
        Ok(user) => user,
        Err(LoginError::Wrong) => {
            tracing::info!(user = %name, "dashboard: failed login");
            return Err(ApiError::Rejected {
                status: StatusCode::UNAUTHORIZED,
                message: "wrong user name or password".into(),
            });
        }
        Err(LoginError::Locked(until)) => {
            return Err(ApiError::Rejected {
                status: StatusCode::LOCKED,
                message: format!(
                    "too many failed logins: locked for {} more seconds",
                    until.saturating_sub(users::now())
                ),
            });
        }
    };
    tracing::info!(user = %user.username, role = %user.role, "dashboard: logged in");
    d.new_session(user, &api.settings.node_name)
}

/// `POST /dashboard/logout`: the session ends (its cookie no longer works anywhere).
pub async fn logout(State(api): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let d = dashboard(&api)?;
    if let Some(s) = d.session(&headers) {
        d.signer.revoke(&s.claims, users::now());
    }
    let mut response = Json(json!({ "logged_out": true })).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", 0));
    Ok(response)
}

/// `GET /dashboard/me`: who is logged in (401 if nobody).
pub async fn me(State(api): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let d = dashboard(&api)?;
    let s = d.logged_in(&headers)?;
    Ok(Json(d.me(&s, &api.settings.node_name)).into_response())
}

/// The body of `POST /dashboard/profile/password`.
#[derive(Debug, Deserialize)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /dashboard/profile/password`: sets the logged-in user's password; every other
/// session of the user ends, this one gets a new cookie.
pub async fn change_password(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Json(body): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let d = dashboard(&api)?.clone();
    let s = d.logged_in(&headers)?;
    let csrf = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !d.signer.csrf_matches(&s.claims, csrf) {
        return Err(ApiError::Rejected {
            status: StatusCode::FORBIDDEN,
            message: "missing or wrong X-Comqtt-Csrf header".into(),
        });
    }
    let username = s.user.username.clone();
    let changed = {
        let _turn = d.checks.acquire().await;
        let d = d.clone();
        tokio::task::spawn_blocking(move || {
            d.users.change_password(&username, &body.current, &body.new)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    };
    let user = match changed {
        Ok(user) => user,
        Err(ChangeError::Wrong) => {
            return Err(ApiError::Rejected {
                status: StatusCode::FORBIDDEN,
                message: "the current password is wrong".into(),
            });
        }
        Err(ChangeError::Users(e @ users::UsersError::Weak)) => {
            return Err(ApiError::BadRequest(e.to_string()));
        }
        Err(ChangeError::Users(e)) => return Err(ApiError::Internal(e.to_string())),
    };
    tracing::info!(user = %user.username, "dashboard: password changed");
    d.new_session(user, &api.settings.node_name)
}
