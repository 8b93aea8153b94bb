//! Request extractors that fail with [`ApiError`] (a JSON body) instead of axum's plain-text
//! rejections, and the paging parameters shared by the listing routes.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// A JSON request body. Unlike `axum::Json` it does not insist on a `Content-Type` header
/// (`curl -d` sends a form type), and every parse failure is a 400 naming what is wrong.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = Bytes::from_request(req, state).await?;
        serde_json::from_slice(&body)
            .map(Json)
            .map_err(|e| ApiError::BadRequest(format!("bad JSON body: {e}")))
    }
}

/// A query string, as `axum::extract::Query`, failing with a JSON 400.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Query(
            axum::extract::Query::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// Path parameters, percent-decoded, as `axum::extract::Path`, failing with a JSON error.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Ok(Path(
            axum::extract::Path::<T>::from_request_parts(parts, state)
                .await?
                .0,
        ))
    }
}

/// Items per page when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Most items one page holds; larger requests are cut down to it.
pub const MAX_PAGE_SIZE: usize = 100;

/// `?page=&page_size=` of the listing routes.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Paging {
    /// 1-based page number; default 1, 0 counts as 1.
    pub page: Option<usize>,
    /// Items per page; default [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`], 0 counts as 1.
    pub page_size: Option<usize>,
}

impl Paging {
    /// The page number and size in force (page capped so that offsets cannot overflow).
    pub fn resolve(&self) -> (usize, usize) {
        let size = self
            .page_size
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .clamp(1, MAX_PAGE_SIZE);
        let page = self.page.unwrap_or(1).clamp(1, u32::MAX as usize);
        (page, size)
    }
}

/// One page of a listing.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items in the whole listing.
    pub total: usize,
    /// This page's number (1-based).
    pub page: usize,
    /// The page size in force.
    pub page_size: usize,
}

/// A payload as JSON: the text when it is valid UTF-8, else base64, and which of the two.
pub fn payload_text(payload: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(payload) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (base64(payload), "base64"),
    }
}

/// Standard base64 with padding (RFC 4648 §4); the API's only binary encoding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        for (raw, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), encoded);
        }
    }

    #[test]
    fn payload_is_text_when_utf8_else_base64() {
        assert_eq!(payload_text(b"hello"), ("hello".to_string(), "utf8"));
        assert_eq!(payload_text(&[0xff, 0x00]), ("/wA=".to_string(), "base64"));
    }

    #[test]
    fn paging_defaults_and_limits() {
        assert_eq!(Paging::default().resolve(), (1, DEFAULT_PAGE_SIZE));
        assert_eq!(
            Paging {
                page: Some(0),
                page_size: Some(1000)
            }
            .resolve(),
            (1, MAX_PAGE_SIZE)
        );
        assert_eq!(
            Paging {
                page: Some(3),
                page_size: Some(0)
            }
            .resolve(),
            (3, 1)
        );
    }
}
