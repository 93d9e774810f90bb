//! Unsubscribe tokens. A token names the contact *and the address the message went to*, and
//! reveals neither without the key.
//!
//! - **v2** (every link made since 0.6): `base64url(AES-SIV(key, "u2", id NUL address))`, the
//!   key derived from `[unsubscribe] secret` by HMAC. AES-SIV (RFC 5297) is deterministic
//!   authenticated encryption: the same person and address always get the same link, and a
//!   changed byte makes the token invalid. No `.` in it.
//! - **v1** (links already in inboxes): `base64url(id) . base64url(HMAC-SHA256(secret, "u1:" +
//!   id)[..16])`. Still accepted forever; it names no address, so an opt-out through it
//!   suppresses the contact's current address.
//!
//! Tokens never expire. A rotated secret stays valid for old links when it is listed in
//! `[unsubscribe] previous_secrets`.
//!
//! **Delivery references** ([`seal_delivery`]) are the local part of every `Message-ID`
//! nurture writes: `m1.` + `base64url(AES-SIV(key, "m1", delivery key NUL address))`, the key
//! derived from the same secret under another label. A reply's `In-Reply-To`, a DSN's or an
//! ARF report's quoted headers bring it back, and [`open_delivery`] says which delivery (so
//! which contact, plan, touch and address) the returning mail answers — with nothing stored
//! per message, and nothing a stranger can make up.

use aes_siv::KeyInit;
use aes_siv::siv::Aes128Siv;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Who an unsubscribe token is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscriber {
    /// The contact id.
    pub contact_id: String,
    /// The address the message was sent to (`None` for a v1 token, which names none).
    pub address: Option<String>,
    /// A test token ([`sign_test`]: `send-test`, previews): its link suppresses nobody.
    pub test: bool,
}

fn v1_mac(secret: &str, contact_id: &str) -> HmacSha256 {
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"u1:");
    m.update(contact_id.as_bytes());
    m
}

/// The AES-SIV cipher of `secret` (two 128-bit keys, derived so the token key is never the
/// secret itself).
fn cipher(secret: &str) -> Aes128Siv {
    derived_cipher(secret, b"nurture unsubscribe token v2")
}

/// An AES-SIV cipher keyed for one `purpose` by HMAC of `secret`: tokens sealed for one
/// purpose (an unsubscribe, a message reference, an agenda link) never open as another.
pub(crate) fn derived_cipher(secret: &str, purpose: &[u8]) -> Aes128Siv {
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(purpose);
    Aes128Siv::new(&m.finalize().into_bytes())
}

/// The AES-SIV cipher of delivery references.
fn reference_cipher(secret: &str) -> Aes128Siv {
    derived_cipher(secret, b"nurture message reference v1")
}

/// What a `Message-ID` nurture wrote says about its delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRef {
    /// The delivery key: `contact|plan|touch|occurrence`.
    pub key: String,
    /// The address the message was sent to.
    pub address: String,
}

impl DeliveryRef {
    /// The contact id (the delivery key's first field).
    pub fn contact_id(&self) -> &str {
        self.key.rsplitn(4, '|').last().unwrap_or_default()
    }
    /// `(plan, touch, occurrence)` of the delivery key.
    pub fn touch(&self) -> (&str, &str, &str) {
        let mut parts = self.key.rsplitn(4, '|');
        let occurrence = parts.next().unwrap_or_default();
        let touch = parts.next().unwrap_or_default();
        let plan = parts.next().unwrap_or_default();
        (plan, touch, occurrence)
    }
}

/// The `Message-ID` local part of the delivery `delivery_key` to `address`: deterministic (every
/// copy of one delivery has the same id), opaque, unforgeable.
pub fn seal_delivery(secret: &str, delivery_key: &str, address: &str) -> String {
    let mut plain = Vec::with_capacity(delivery_key.len() + address.len() + 1);
    plain.extend_from_slice(delivery_key.as_bytes());
    plain.push(0);
    plain.extend_from_slice(address.as_bytes());
    let sealed = reference_cipher(secret)
        .encrypt([b"m1"], &plain)
        .expect("AES-SIV encrypts any length");
    format!("m1.{}", URL_SAFE_NO_PAD.encode(sealed))
}

/// The delivery a `Message-ID` (with or without its `<>`, with its domain) names, trying each
/// of `secrets`; `None` for an id nurture did not write.
pub fn open_delivery(secrets: &[&str], message_id: &str) -> Option<DeliveryRef> {
    let id = message_id.trim().trim_start_matches('<').trim_end_matches('>');
    let local = id.rsplit_once('@').map_or(id, |(l, _)| l);
    let sealed = URL_SAFE_NO_PAD.decode(local.strip_prefix("m1.")?).ok()?;
    let plain = secrets.iter().find_map(|s| reference_cipher(s).decrypt([b"m1"], &sealed).ok())?;
    let plain = String::from_utf8(plain).ok()?;
    let (key, address) = plain.rsplit_once('\0')?;
    Some(DeliveryRef {
        key: key.to_string(),
        address: address.to_string(),
    })
}

/// The VERP tag of a delivery (`[inbound] return_path`): 20 hex digits of an HMAC of the
/// delivery key and the address, so the envelope sender `bounces+TAG@domain` fits the 64
/// characters of a local part and survives a relay that lowercases it. Not reversible: the
/// ledger keeps what it names for [`crate::store::Keys::verp`]'s lifetime.
pub fn verp_tag(secret: &str, delivery_key: &str, address: &str) -> String {
    let mut m = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(b"nurture verp v1\0");
    m.update(delivery_key.as_bytes());
    m.update(b"\0");
    m.update(address.as_bytes());
    hex::encode(&m.finalize().into_bytes()[..10])
}

/// `local+TAG@domain` of `return_path` `local@domain`.
pub fn verp_address(return_path: &str, tag: &str) -> String {
    match return_path.rsplit_once('@') {
        Some((local, domain)) => format!("{local}+{tag}@{domain}"),
        None => return_path.to_string(),
    }
}

/// Makes the token of `contact_id` for a message sent to `address` (empty when there is none).
pub fn sign(secret: &str, contact_id: &str, address: &str) -> String {
    seal_token(secret, LIVE, contact_id, address)
}

/// Makes the token of a test message (`send-test`, a preview) rendered for `contact_id` and
/// sent to `address`: the same shape, sealed under another label, so the page knows it
/// unsubscribes nobody.
pub fn sign_test(secret: &str, contact_id: &str, address: &str) -> String {
    seal_token(secret, TEST, contact_id, address)
}

/// The AES-SIV associated data of real and of test tokens.
const LIVE: &[u8] = b"u2";
const TEST: &[u8] = b"t2";

fn seal_token(secret: &str, label: &[u8], contact_id: &str, address: &str) -> String {
    let mut plain = Vec::with_capacity(contact_id.len() + address.len() + 1);
    plain.extend_from_slice(contact_id.as_bytes());
    plain.push(0);
    plain.extend_from_slice(address.as_bytes());
    let sealed = cipher(secret).encrypt([label], &plain).expect("AES-SIV encrypts any length");
    URL_SAFE_NO_PAD.encode(sealed)
}

/// A v1 token (what links made before 0.6 look like); kept to test that they still work.
pub fn sign_v1(secret: &str, contact_id: &str) -> String {
    let tag = v1_mac(secret, contact_id).finalize().into_bytes();
    format!("{}.{}", URL_SAFE_NO_PAD.encode(contact_id), URL_SAFE_NO_PAD.encode(&tag[..16]))
}

/// Who a valid token is for, trying each of `secrets` (the current one first); `None` for a
/// forged, truncated or altered token.
pub fn verify(secrets: &[&str], token: &str) -> Option<Unsubscriber> {
    secrets.iter().find_map(|s| verify_with(s, token))
}

fn verify_with(secret: &str, token: &str) -> Option<Unsubscriber> {
    if let Some((id_part, tag_part)) = token.split_once('.') {
        let id = String::from_utf8(URL_SAFE_NO_PAD.decode(id_part).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag_part).ok()?;
        if tag.len() != 16 {
            return None;
        }
        v1_mac(secret, &id).verify_truncated_left(&tag).ok()?;
        return Some(Unsubscriber {
            contact_id: id,
            address: None,
            test: false,
        });
    }
    let sealed = URL_SAFE_NO_PAD.decode(token).ok()?;
    let mut cipher = cipher(secret);
    let (plain, test) = match cipher.decrypt([LIVE], &sealed) {
        Ok(plain) => (plain, false),
        Err(_) => (cipher.decrypt([TEST], &sealed).ok()?, true),
    };
    let plain = String::from_utf8(plain).ok()?;
    let (id, address) = plain.rsplit_once('\0')?;
    Some(Unsubscriber {
        contact_id: id.to_string(),
        address: (!address.is_empty()).then(|| address.to_string()),
        test,
    })
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

/// `{base_url}/u/{token}` for a message to `address`.
pub fn unsubscribe_url(base_url: &str, secret: &str, contact_id: &str, address: &str) -> String {
    format!("{}/u/{}", base_url.trim_end_matches('/'), sign(secret, contact_id, address))
}

/// `{base_url}/u/{token}` with a test token ([`sign_test`]).
pub fn test_unsubscribe_url(base_url: &str, secret: &str, contact_id: &str, address: &str) -> String {
    format!("{}/u/{}", base_url.trim_end_matches('/'), sign_test(secret, contact_id, address))
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
    fn round_trip_names_the_contact_and_the_address() {
        let t = sign("k", "c-17", "ann@example.com");
        let who = verify(&["k"], &t).unwrap();
        assert_eq!(who.contact_id, "c-17");
        assert_eq!(who.address.as_deref(), Some("ann@example.com"));
        assert_eq!(t, sign("k", "c-17", "ann@example.com"), "deterministic");
        assert_ne!(t, sign("k", "c-17", "ann@new.example.com"), "bound to the address");
        assert!(!who.test);
        let test = verify(&["k"], &sign_test("k", "c-17", "me@example.com")).unwrap();
        assert_eq!(
            (test.contact_id.as_str(), test.address.as_deref(), test.test),
            ("c-17", Some("me@example.com"), true)
        );
        let odd = sign("k", "a|b\0c", "");
        let who = verify(&["k"], &odd).unwrap();
        assert_eq!((who.contact_id.as_str(), who.address), ("a|b\0c", None));
    }

    #[test]
    fn delivery_references_round_trip_and_cannot_be_forged() {
        let key = "ann@example.com|8x8|w1|2026-11-20";
        let local = seal_delivery("k", key, "ann@example.com");
        assert!(local.starts_with("m1.") && !local.contains("ann"), "{local}");
        assert_eq!(local, seal_delivery("k", key, "ann@example.com"), "the same for every copy");
        let id = format!("<{local}@example.com>");
        let r = open_delivery(&["k"], &id).unwrap();
        assert_eq!((r.key.as_str(), r.address.as_str()), (key, "ann@example.com"));
        assert_eq!(r.contact_id(), "ann@example.com");
        assert_eq!(r.touch(), ("8x8", "w1", "2026-11-20"));
        let piped = DeliveryRef {
            key: "a|b|c|x|p|t|2026-01-01".into(),
            address: String::new(),
        };
        assert_eq!((piped.contact_id(), piped.touch()), ("a|b|c|x", ("p", "t", "2026-01-01")));
        assert!(open_delivery(&["old", "k"], &local).is_some(), "a rotated secret still opens");
        assert_eq!(open_delivery(&["other"], &id), None);
        assert_eq!(open_delivery(&["k"], "<0123abcd@example.com>"), None, "not ours");
        let mut raw = URL_SAFE_NO_PAD.decode(&local[3..]).unwrap();
        raw[5] ^= 1;
        assert_eq!(open_delivery(&["k"], &format!("m1.{}", URL_SAFE_NO_PAD.encode(raw))), None);
        // The unsubscribe token of the same text is not a reference (another key).
        assert_eq!(open_delivery(&["k"], &format!("m1.{}", sign("k", key, "ann@example.com"))), None);
    }

    #[test]
    fn verp_tags_fit_a_local_part() {
        let tag = verp_tag("k", "a@example.com|8x8|w1|2026-11-20", "a@example.com");
        assert_eq!(tag.len(), 20);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(tag, verp_tag("k", "a@example.com|8x8|w1|2026-11-27", "a@example.com"));
        assert_eq!(verp_address("bounces@mapleoak.com", &tag), format!("bounces+{tag}@mapleoak.com"));
    }

    #[test]
    fn a_new_token_reveals_neither_address_nor_id() {
        let t = sign("k", "ann@example.com", "ann@example.com");
        assert!(!t.contains('.'));
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("ann") && !text.contains("example"), "{text}");
        assert!(!t.contains(&URL_SAFE_NO_PAD.encode("ann@example.com")[..8]));
    }

    #[test]
    fn old_tokens_keep_working_and_rotated_secrets_are_accepted() {
        // A token exactly as 0.5 made it: base64url(id).base64url(HMAC[..16]).
        // Made by 0.5.2's `sign("k", "ann@example.com")` (and by Python's hmac, independently).
        let old = "YW5uQGV4YW1wbGUuY29t.dy2KaRo3XZKxKc7KdgIYEg";
        assert_eq!(sign_v1("k", "ann@example.com"), old);
        let who = verify(&["k"], old).unwrap();
        assert_eq!((who.contact_id.as_str(), who.address), ("ann@example.com", None));
        let t = sign("old-secret", "ann@example.com", "ann@example.com");
        assert_eq!(verify(&["new-secret"], &t), None);
        assert!(verify(&["new-secret", "old-secret"], &t).is_some());
    }

    #[test]
    fn forged_altered_truncated_are_rejected() {
        let t = sign_v1("k", "a@example.com");
        assert_eq!(verify(&["other"], &t), None);
        let (_, tag) = t.split_once('.').unwrap();
        let moved = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("b@example.com"));
        assert_eq!(verify(&["k"], &moved), None, "A's tag cannot unsubscribe B");
        assert_eq!(verify(&["k"], &t[..t.len() - 2]), None);
        let t2 = sign("k", "a", "a@example.com");
        assert_eq!(verify(&["other"], &t2), None);
        assert_eq!(verify(&["k"], &t2[..t2.len() - 1]), None);
        let mut flipped = URL_SAFE_NO_PAD.decode(&t2).unwrap();
        flipped[20] ^= 1;
        assert_eq!(verify(&["k"], &URL_SAFE_NO_PAD.encode(flipped)), None);
        assert_eq!(verify(&["k"], "garbage"), None);
        assert_eq!(verify(&["k"], ""), None);
    }
}
