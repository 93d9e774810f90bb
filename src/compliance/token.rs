//! Unsubscribe tokens: `base64url(contact id) . base64url(HMAC-SHA256(secret, "u1:" + id)[..16])`.
//! They never expire; without the secret they cannot be forged or moved to another contact.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, contact_id: &str) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"u1:");
    m.update(contact_id.as_bytes());
    m
}

/// Signs a token for `contact_id`.
pub fn sign(secret: &str, contact_id: &str) -> String {
    let tag = mac(secret, contact_id).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(contact_id), URL_SAFE_NO_PAD.encode(&tag[..16]))
}

/// The contact id inside a valid token; `None` for a forged, truncated or altered one.
pub fn verify(secret: &str, token: &str) -> Option<String> {
    let (id_part, tag_part) = token.split_once('.')?;
    let id = String::from_utf8(URL_SAFE_NO_PAD.decode(id_part).ok()?).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag_part).ok()?;
    if tag.len() != 16 {
        return None;
    }
    mac(secret, &id).verify_truncated_left(&tag).ok()?;
    Some(id)
}

/// `{base_url}/u/{token}`.
pub fn unsubscribe_url(base_url: &str, secret: &str, contact_id: &str) -> String {
    format!("{}/u/{}", base_url.trim_end_matches('/'), sign(secret, contact_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = sign("k", "ann@example.com");
        assert_eq!(verify("k", &t).as_deref(), Some("ann@example.com"));
    }

    #[test]
    fn forged_altered_truncated_are_rejected() {
        let t = sign("k", "a@example.com");
        assert_eq!(verify("other", &t), None);
        let (_, tag) = t.split_once('.').unwrap();
        let moved = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("b@example.com"));
        assert_eq!(verify("k", &moved), None, "A's tag cannot unsubscribe B");
        assert_eq!(verify("k", &t[..t.len() - 2]), None);
        assert_eq!(verify("k", "garbage"), None);
        assert_eq!(verify("k", ""), None);
    }
}
