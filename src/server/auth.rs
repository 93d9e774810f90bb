//! Bearer tokens of the operator endpoints (`/preview`, `/events`), compared in constant time:
//! each side is turned into an HMAC of a per-endpoint label keyed by the token, and the tags
//! are compared with `verify_slice`.

use axum::http::{HeaderMap, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The HMAC of `label` keyed by `token` (also the preview session cookie's value).
pub(super) fn tag(token: &str, label: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
    m.update(label);
    m
}

/// True when `given` is `expected` (surrounding spaces ignored).
pub(super) fn same_token(given: &str, expected: &str, label: &[u8]) -> bool {
    tag(given.trim(), label)
        .verify_slice(&tag(expected, label).finalize().into_bytes())
        .is_ok()
}

/// The token of an `Authorization: Bearer ...` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}
