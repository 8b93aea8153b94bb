//! The HTTP API's one error type: every failure a handler or an extractor can meet, each with
//! its status code, answered as a JSON body `{"error": "..."}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter, query string or body the route cannot use (400).
    #[error("{0}")]
    BadRequest(String),
    /// A mutating request without the right `Authorization: Bearer` token (401).
    #[error(
        "this request needs the header `Authorization: Bearer <token>` with the configured HTTP API token"
    )]
    Unauthorized,
    /// A mutating request while no token is configured: such requests are refused outright (403).
    #[error(
        "mutating requests are disabled: configure a token with --http-token, COMQTT_HTTP_TOKEN or mqtt.http-token"
    )]
    TokenNotConfigured,
    /// The configuration turns the request's feature off (403).
    #[error("{0}")]
    Disabled(String),
    /// The thing named in the path does not exist (404), e.g. "client x is not connected".
    #[error("{0}")]
    NotFound(String),
    /// No route has this path (404).
    #[error("no such route: {0}")]
    NoRoute(String),
    /// The request conflicts with one in progress (409), e.g. a second CPU profile.
    #[error("{0}")]
    Conflict(String),
    /// What was asked cannot be done as things are (422), e.g. a reload of an invalid file.
    #[error("{0}")]
    Unprocessable(String),
    /// The node failed to do what was asked (500).
    #[error("{0}")]
    Internal(String),
    /// The route exists but not for this method (405).
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// An extractor refused the request (bad path or query parameter, unreadable or too
    /// large body), with the status and message it chose.
    #[error("{message}")]
    Rejected {
        /// The extractor's status code (4xx).
        status: StatusCode,
        /// The extractor's explanation.
        message: String,
    },
}

impl ApiError {
    /// The status code this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TokenNotConfigured | ApiError::Disabled(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Rejected { status, .. } => *status,
        }
    }
}

/// Axum's rejections become [`ApiError::Rejected`], so they too answer in JSON.
macro_rules! from_rejection {
    ($($rejection:ty),*) => {$(
        impl From<$rejection> for ApiError {
            fn from(r: $rejection) -> ApiError {
                ApiError::Rejected { status: r.status(), message: r.body_text() }
            }
        }
    )*};
}

from_rejection!(
    axum::extract::rejection::PathRejection,
    axum::extract::rejection::QueryRejection,
    axum::extract::rejection::BytesRejection
);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let ApiError::Unauthorized = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_has_its_status() {
        assert_eq!(
            ApiError::BadRequest("x".into()).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(ApiError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::TokenNotConfigured.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::NotFound("x".into()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn unauthorized_names_the_bearer_scheme() {
        let response = ApiError::Unauthorized.into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
