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

/// Why people could not open links under `base_url` (not HTTPS, loopback, a private network,
/// a local name), or `None` for a public HTTPS address.
pub fn unreachable_base(base_url: &str) -> Option<String> {
    let url = match url::Url::parse(base_url) {
        Ok(u) => u,
        Err(e) => return Some(format!("{base_url:?} is not a URL ({e})")),
    };
    if url.scheme() != "https" {
        return Some(format!("{base_url:?} is not HTTPS"));
    }
    let local = match url.host() {
        None => true,
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00,
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            d == "localhost" || [".localhost", ".local", ".internal", ".lan"].iter().any(|s| d.ends_with(s))
        }
    };
    local.then(|| format!("{base_url:?} is a loopback, private or local address"))
}

/// `{base_url}/u/{token}`.
pub fn unsubscribe_url(base_url: &str, secret: &str, contact_id: &str) -> String {
    format!("{}/u/{}", base_url.trim_end_matches('/'), sign(secret, contact_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_public_https_base_is_reachable() {
        assert_eq!(unreachable_base("https://mapleoak.example.com"), None);
        assert_eq!(unreachable_base("https://203.0.113.7/x"), None);
        for bad in [
            "http://mapleoak.example.com",
            "http://127.0.0.1:8080",
            "https://127.0.0.1",
            "https://localhost:8443",
            "https://10.1.2.3",
            "https://192.168.1.10",
            "https://[::1]",
            "https://[fd00::1]",
            "https://nurture.local",
            "not a url",
        ] {
            assert!(unreachable_base(bad).is_some(), "{bad}");
        }
    }

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
