//! Erasure: what is kept of a forgotten person — a keyed hash (HMAC-SHA256 with a secret
//! pepper) of each address, never the address itself, so a later import can recognise them
//! without nurture storing who they were. A plain SHA-256 would be reversible by guessing.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `hex(HMAC-SHA256(pepper, channel ":" normalized value))`.
pub fn address_hash(pepper: &str, channel: &str, value: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(pepper.as_bytes()).expect("HMAC takes keys of any length");
    m.update(channel.as_bytes());
    m.update(b":");
    m.update(value.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

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
