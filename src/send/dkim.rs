//! DKIM signing with lettre. The signature covers `List-Unsubscribe` and
//! `List-Unsubscribe-Post`, as RFC 8058 requires for one-click unsubscribe.

use crate::config::Config;
use lettre::Message;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey};
use lettre::message::header::HeaderName;

/// Headers covered by the signature.
const SIGNED: &[&str] = &[
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// A loaded signer.
pub struct Signer(DkimConfig);

impl Signer {
    /// The signer of `[dkim]`, `None` when no domain is configured. Errors name the key file.
    pub fn from_config(config: &Config) -> Result<Option<Signer>, String> {
        let d = &config.dkim;
        if d.domain.is_empty() {
            return Ok(None);
        }
        let path = config.resolve(&d.private_key_file);
        let pem = std::fs::read_to_string(&path).map_err(|e| format!("[dkim] private_key_file {}: {e}", path.display()))?;
        let algorithm = match d.algorithm.as_str() {
            "" | "rsa" => DkimSigningAlgorithm::Rsa,
            "ed25519" => DkimSigningAlgorithm::Ed25519,
            other => return Err(format!("[dkim] algorithm: expected \"rsa\" or \"ed25519\", got {other:?}")),
        };
        let key = DkimSigningKey::new(pem.trim(), algorithm).map_err(|e| {
            format!(
                "[dkim] private_key_file {}: not a usable key ({e}); RSA keys must be PKCS#1 PEM (openssl genrsa -traditional)",
                path.display()
            )
        })?;
        if d.selector.is_empty() {
            return Err("[dkim] selector: required when [dkim] domain is set".into());
        }
        let headers = SIGNED.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
        let relaxed = DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        };
        Ok(Some(Signer(DkimConfig::new(
            d.selector.clone(),
            d.domain.clone(),
            key,
            headers,
            relaxed,
        ))))
    }

    /// Signs the message (call last: after every header is set).
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.0);
    }
}
