//! DKIM signing (RFC 6376, relaxed/relaxed; RSA-SHA256 or Ed25519-SHA256 per RFC 8463) of the
//! messages [`super::mime`] writes. The signature covers `List-Unsubscribe` and
//! `List-Unsubscribe-Post`, as RFC 8058 requires for one-click unsubscribe. Checked by an
//! independent verifier (dkimpy) in the integration tests.

use super::mime::{self, Message};
use crate::config::Config;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

/// Headers covered by the signature (listed even when a message lacks one, so none can be
/// added later).
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

enum Key {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A loaded signer.
pub struct Signer {
    domain: String,
    selector: String,
    key: Key,
}

impl Signer {
    /// The signer of `[dkim]`, `None` when no domain is configured. Errors name the key file.
    pub fn from_config(config: &Config) -> Result<Option<Signer>, String> {
        let d = &config.dkim;
        if d.domain.is_empty() {
            return Ok(None);
        }
        let path = config.resolve(&d.private_key_file);
        let pem = std::fs::read_to_string(&path).map_err(|e| format!("[dkim] private_key_file {}: {e}", path.display()))?;
        let unusable = |e: String| {
            format!(
                "[dkim] private_key_file {}: not a usable key ({e}); RSA keys must be PKCS#1 PEM (openssl genrsa -traditional)",
                path.display()
            )
        };
        let key = match d.algorithm.as_str() {
            "" | "rsa" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                Key::Rsa(Box::new(
                    rsa::RsaPrivateKey::from_pkcs1_pem(pem.trim()).map_err(|e| unusable(e.to_string()))?,
                ))
            }
            "ed25519" => {
                let bytes = B64.decode(pem.trim()).map_err(|e| unusable(e.to_string()))?;
                let seed: [u8; 32] = bytes
                    .try_into()
                    .map_err(|_| unusable("an Ed25519 key is 32 bytes, base64-encoded".into()))?;
                Key::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
            other => return Err(format!("[dkim] algorithm: expected \"rsa\" or \"ed25519\", got {other:?}")),
        };
        if d.selector.is_empty() {
            return Err("[dkim] selector: required when [dkim] domain is set".into());
        }
        Ok(Some(Signer {
            domain: d.domain.clone(),
            selector: d.selector.clone(),
            key,
        }))
    }

    /// Signs the message as of now (call last: after every header is set).
    pub fn sign(&self, message: &mut Message) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.sign_at(message, now);
    }

    fn sign_at(&self, message: &mut Message, timestamp: u64) {
        let body_hash = B64.encode(Sha256::digest(relaxed_body(message.body())));
        let algorithm = match self.key {
            Key::Rsa(_) => "rsa",
            Key::Ed25519(_) => "ed25519",
        };
        let names = SIGNED.join(":").to_ascii_lowercase();
        let tags = format!(
            "v=1; a={algorithm}-sha256; d={}; s={}; c=relaxed/relaxed; q=dns/txt; t={timestamp}; h={names}; bh={body_hash}; b=",
            self.domain, self.selector
        );
        let mut hasher = Sha256::new();
        for name in SIGNED {
            if let Some(value) = header_value(message.head(), name) {
                hasher.update(relaxed_header(name, value).as_bytes());
                hasher.update(b"\r\n");
            }
        }
        hasher.update(relaxed_header("DKIM-Signature", &tags).as_bytes());
        let hash = hasher.finalize();
        let signature = match &self.key {
            // Signing with a valid key over a SHA-256 digest cannot fail.
            Key::Rsa(key) => key
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash)
                .map(|s| B64.encode(s))
                .unwrap_or_default(),
            Key::Ed25519(key) => B64.encode(ed25519_dalek::Signer::sign(key.as_ref(), &hash).to_bytes()),
        };
        let mut line = String::with_capacity(tags.len() + signature.len() + 32);
        mime::text_header(&mut line, "DKIM-Signature", &format!("{tags}{signature}"));
        message.prepend_header(&line);
    }
}

/// The value of header `name` in a header block (its folded lines included, without the final
/// CRLF); the last one when there are several, as RFC 6376 §5.4.2 picks.
fn header_value<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    let mut found = None;
    let mut rest = head;
    while !rest.is_empty() {
        // A header ends at a CRLF not followed by a space or tab.
        let mut end = 0;
        let len = loop {
            match rest[end..].find("\r\n") {
                Some(i) if rest[end + i + 2..].starts_with([' ', '\t']) => end += i + 2,
                Some(i) => break end + i,
                None => break rest.len(),
            }
        };
        let field = &rest[..len];
        if let Some((n, v)) = field.split_once(':')
            && n.trim_end().eq_ignore_ascii_case(name)
        {
            found = Some(v);
        }
        rest = rest.get(len + 2..).unwrap_or("");
    }
    found
}

/// Relaxed header canonicalization (RFC 6376 §3.4.2): lower-case name, unfolded value with
/// runs of spaces and tabs made one space and trimmed, `name:value` (no CRLF).
fn relaxed_header(name: &str, value: &str) -> String {
    let mut out = name.to_ascii_lowercase();
    out.push(':');
    let unfolded = value.replace("\r\n", "");
    let mut words = unfolded.split([' ', '\t']).filter(|w| !w.is_empty()).peekable();
    while let Some(word) = words.next() {
        out.push_str(word);
        if words.peek().is_some() {
            out.push(' ');
        }
    }
    out
}

/// Relaxed body canonicalization (RFC 6376 §3.4.4): trailing spaces and tabs of each line
/// removed, runs of them made one space, empty lines at the end removed, CRLF at the end.
fn relaxed_body(body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for line in body.split("\r\n") {
        let line = line.trim_end_matches([' ', '\t']);
        let mut space = false;
        for b in line.bytes() {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    out.push(b' ');
                    space = false;
                }
                out.push(b);
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    if out == b"\r\n" {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_follow_rfc_6376() {
        // §3.4.5's example.
        assert_eq!(relaxed_header("A", " X\r\n"), "a:X");
        assert_eq!(relaxed_header("B", " Y\t\r\n\tZ  "), "b:Y Z");
        assert_eq!(relaxed_body(" C \r\nD \t E\r\n\r\n\r\n"), b" C\r\nD E\r\n");
        assert_eq!(relaxed_body(""), b"");
        assert_eq!(relaxed_body("x"), b"x\r\n");
    }

    #[test]
    fn a_folded_header_is_found_whole() {
        let head = "From: a@example.com\r\nSubject: one\r\n two\r\nTo: b@example.com\r\n";
        assert_eq!(header_value(head, "subject"), Some(" one\r\n two"));
        assert_eq!(header_value(head, "To"), Some(" b@example.com"));
        assert_eq!(header_value(head, "Date"), None);
    }
}
