//! Erasure: what is kept of a forgotten person — a keyed hash (HMAC-SHA256 with a secret
//! pepper) of each address, never the address itself, so a later import can recognise them
//! without nurture storing who they were. A plain SHA-256 would be reversible by guessing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `hex(HMAC-SHA256(pepper, channel ":" normalized value))`.
pub fn address_hash(pepper: &str, channel: &str, value: &str) -> String {
    let mut m = keyed(pepper);
    m.update(channel.as_bytes());
    m.update(b":");
    m.update(value.as_bytes());
    let mut out = [0u8; 64];
    hex::encode_to_slice(m.finalize().into_bytes(), &mut out).expect("64 hex digits for 32 bytes");
    String::from_utf8_lossy(&out).into_owned()
}

/// HMAC-SHA256 keyed with `key`, ready for the message. The keyed state of the last key used
/// on this thread is kept and cloned: an import hashes millions of addresses under one pepper,
/// and keying costs as much as hashing a short address.
pub fn keyed(key: &str) -> Hmac<Sha256> {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, Hmac<Sha256>)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((k, mac)) if k == key => mac.clone(),
        _ => {
            let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
            *last = Some((key.to_string(), mac.clone()));
            mac
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_key_state_hashes_as_a_fresh_one() {
        let fresh = |key: &str, value: &str| {
            let mut m = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
            m.update(value.as_bytes());
            hex::encode(m.finalize().into_bytes())
        };
        for (key, value) in [
            ("k1", "email:a@example.com"),
            ("k2", "email:a@example.com"),
            ("k1", "sms:+12175550100"),
        ] {
            let (channel, address) = value.split_once(':').unwrap();
            assert_eq!(address_hash(key, channel, address), fresh(key, value));
        }
    }

    #[test]
    fn keyed_and_channel_separated() {
        let a = address_hash("pepper", "email", "a@example.com");
        assert_eq!(a.len(), 64);
        assert_eq!(a, address_hash("pepper", "email", "a@example.com"));
        assert_ne!(a, address_hash("other", "email", "a@example.com"), "depends on the pepper");
        assert_ne!(a, address_hash("pepper", "sms", "a@example.com"));
        assert!(!a.contains("example"));
    }
}
