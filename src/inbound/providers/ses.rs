//! Amazon SES notifications through SNS: the SNS message signature (SignatureVersion 1,
//! SHA1withRSA, or 2, SHA256withRSA, over the fields SNS names) checked with the certificate
//! at `SigningCertURL` — which must be `https://sns.<region>.amazonaws.com/…` (the HTTPS fetch
//! authenticates it), or under `[inbound.ses] certificate_url_prefix` when a test sets one —
//! and the topic must be `[inbound.ses] topic_arn`. A `SubscriptionConfirmation` is confirmed
//! by fetching its `SubscribeURL` (same host rule). A `Notification` carries SES's JSON:
//! `Bounce` (`Permanent`: hard, `Transient`: soft, `Undetermined`: nothing) and `Complaint`
//! (any feedback type but `not-spam`), one event per recipient, matched by
//! `mail.commonHeaders.messageId`.

use super::{Event, Refused, angle};
use crate::config::SesConfig;
use crate::inbound::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

/// What a verified SNS message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sns {
    /// Confirm the subscription by fetching this URL.
    Confirm(String),
    /// SES's bounces and complaints.
    Events(Vec<Event>),
    /// Anything else SNS sends (an unsubscribe confirmation): nothing to do.
    Other,
}

/// Signing certificates already fetched, by URL (SNS rotates them rarely).
static CERTS: LazyLock<Mutex<HashMap<String, Vec<u8>>>> = LazyLock::new(Mutex::default);

/// True when `url` may serve SNS certificates or subscription links.
fn trusted(url: &str, cfg: &SesConfig) -> bool {
    if !cfg.certificate_url_prefix.is_empty() {
        return url.starts_with(&cfg.certificate_url_prefix);
    }
    let Ok(u) = url::Url::parse(url) else { return false };
    let host = u.host_str().unwrap_or_default();
    let region = host
        .strip_prefix("sns.")
        .and_then(|h| h.strip_suffix(".amazonaws.com").or_else(|| h.strip_suffix(".amazonaws.com.cn")));
    u.scheme() == "https" && region.is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The text SNS signs: `Name\nvalue\n` for each of `names` present, in that order.
fn string_to_sign(v: &serde_json::Value, names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        if let Some(value) = v[*name].as_str() {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
    out
}

async fn certificate(url: &str, http: &reqwest::Client) -> Result<Vec<u8>, Refused> {
    if let Some(der) = CERTS.lock().unwrap_or_else(|e| e.into_inner()).get(url) {
        return Ok(der.clone());
    }
    let pem = http
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| Refused::Bad(format!("signing certificate {url}: {e}")))?
        .bytes()
        .await
        .map_err(|e| Refused::Bad(format!("signing certificate {url}: {e}")))?;
    let der = CertificateDer::from_pem_slice(&pem)
        .map_err(|e| Refused::Bad(format!("signing certificate {url}: not a PEM certificate ({e})")))?
        .to_vec();
    CERTS.lock().unwrap_or_else(|e| e.into_inner()).insert(url.to_string(), der.clone());
    Ok(der)
}

/// Checks the RSA signature `sig` of `text` with the certificate `der`.
fn check(der: &[u8], version: &str, text: &str, sig: &[u8]) -> Result<(), Refused> {
    let cert_der = CertificateDer::from(der);
    let cert = webpki::EndEntityCert::try_from(&cert_der).map_err(|e| Refused::Bad(format!("signing certificate: {e:?}")))?;
    let bad = |_| Refused::Bad("signature does not match".into());
    match version {
        "2" => cert
            .verify_signature(webpki::ring::RSA_PKCS1_2048_8192_SHA256, text.as_bytes(), sig)
            .map_err(bad),
        "1" => {
            use rsa::pkcs8::DecodePublicKey;
            use sha1::Digest;
            let spki = cert.subject_public_key_info();
            let key =
                rsa::RsaPublicKey::from_public_key_der(spki.as_ref()).map_err(|e| Refused::Bad(format!("signing certificate key: {e}")))?;
            key.verify(rsa::Pkcs1v15Sign::new::<sha1::Sha1>(), &sha1::Sha1::digest(text.as_bytes()), sig)
                .map_err(|_| Refused::Bad("signature does not match".into()))
        }
        other => Err(Refused::Bad(format!("SignatureVersion {other:?}"))),
    }
}

/// Verifies an SNS message from `body` and says what it asks for.
pub async fn verify(cfg: &SesConfig, body: &[u8], http: &reqwest::Client) -> Result<Sns, Refused> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Refused::Malformed("SNS", e.to_string()))?;
    let (Some(kind), Some(signature), Some(cert_url)) = (v["Type"].as_str(), v["Signature"].as_str(), v["SigningCertURL"].as_str()) else {
        return Err(Refused::Missing);
    };
    if v["TopicArn"].as_str() != Some(cfg.topic_arn.as_str()) {
        return Err(Refused::Bad(format!("topic {:?} is not [inbound.ses] topic_arn", v["TopicArn"])));
    }
    if !trusted(cert_url, cfg) {
        return Err(Refused::Bad(format!("SigningCertURL {cert_url} is not an SNS address")));
    }
    let names: &[&str] = match kind {
        "Notification" => &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
        _ => &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
    };
    let sig = STANDARD
        .decode(signature)
        .map_err(|_| Refused::Bad("signature is not base64".into()))?;
    let der = certificate(cert_url, http).await?;
    check(
        &der,
        v["SignatureVersion"].as_str().unwrap_or("1"),
        &string_to_sign(&v, names),
        &sig,
    )?;
    match kind {
        "SubscriptionConfirmation" => {
            let url = v["SubscribeURL"].as_str().unwrap_or_default();
            if !trusted(url, cfg) {
                return Err(Refused::Bad(format!("SubscribeURL {url} is not an SNS address")));
            }
            Ok(Sns::Confirm(url.to_string()))
        }
        "Notification" => {
            let message: serde_json::Value =
                serde_json::from_str(v["Message"].as_str().unwrap_or_default()).map_err(|e| Refused::Malformed("SES", e.to_string()))?;
            Ok(Sns::Events(events(&message, v["MessageId"].as_str().unwrap_or_default())))
        }
        _ => Ok(Sns::Other),
    }
}

/// SES's notification (`notificationType`, or `eventType` of event publishing) as events.
fn events(m: &serde_json::Value, sns_id: &str) -> Vec<Event> {
    let message_id = m["mail"]["commonHeaders"]["messageId"].as_str().map(angle);
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let kind_name = m["notificationType"].as_str().or(m["eventType"].as_str()).unwrap_or_default();
    let (block, recipients, kind, what) = match kind_name {
        "Bounce" => {
            let b = &m["bounce"];
            let kind = match b["bounceType"].as_str() {
                Some("Permanent") => Kind::HardBounce,
                Some("Transient") => Kind::SoftBounce,
                _ => Kind::Nothing,
            };
            (
                b,
                &b["bouncedRecipients"],
                kind,
                format!("ses {} bounce", text(&b["bounceType"]).to_lowercase()),
            )
        }
        "Complaint" => {
            let c = &m["complaint"];
            let feedback = text(&c["complaintFeedbackType"]);
            let kind = if feedback == "not-spam" { Kind::Nothing } else { Kind::Complaint };
            let what = if feedback.is_empty() {
                "ses complaint".into()
            } else {
                format!("ses complaint feedback-type: {feedback}")
            };
            (c, &c["complainedRecipients"], kind, what)
        }
        _ => return Vec::new(),
    };
    let feedback_id = block["feedbackId"].as_str().unwrap_or(sns_id);
    recipients
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let address = text(&r["emailAddress"]);
            let detail = [text(&r["status"]), text(&r["diagnosticCode"])]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Event {
                id: format!("ses:{feedback_id}:{}", address.to_lowercase()),
                kind,
                message_id: message_id.clone(),
                recipient: address,
                evidence: if detail.is_empty() {
                    what.clone()
                } else {
                    format!("{} {what}", detail)
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sns_hosts_over_https_unless_a_test_names_its_own() {
        let cfg = SesConfig::default();
        assert!(trusted(
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            &cfg
        ));
        assert!(trusted("https://sns.cn-north-1.amazonaws.com.cn/x.pem", &cfg));
        for bad in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://sns..amazonaws.com/x.pem",
            "https://s3.amazonaws.com/x.pem",
        ] {
            assert!(!trusted(bad, &cfg), "{bad}");
        }
        let test = SesConfig {
            certificate_url_prefix: "http://127.0.0.1:9/".into(),
            ..Default::default()
        };
        assert!(trusted("http://127.0.0.1:9/cert.pem", &test));
        assert!(!trusted("https://sns.us-east-1.amazonaws.com/x.pem", &test));
    }

    #[test]
    fn bounces_and_complaints_one_event_per_recipient() {
        let bounce = serde_json::json!({"notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "feedbackId": "fb-1", "bouncedRecipients": [
                {"emailAddress": "Ann@example.com", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 unknown"}]},
            "mail": {"commonHeaders": {"messageId": "<m1.x@example.com>"}}});
        let e = events(&bounce, "sns-1");
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].kind, e[0].id.as_str()), (Kind::HardBounce, "ses:fb-1:ann@example.com"));
        assert_eq!(e[0].evidence, "5.1.1 smtp; 550 5.1.1 unknown ses permanent bounce");
        let complaint = serde_json::json!({"eventType": "Complaint",
            "complaint": {"feedbackId": "fb-2", "complaintFeedbackType": "abuse", "complainedRecipients": [{"emailAddress": "b@example.com"}]},
            "mail": {"commonHeaders": {"messageId": "m1.y@example.com"}}});
        let c = events(&complaint, "sns-2");
        assert_eq!(
            (c[0].kind, c[0].message_id.as_deref()),
            (Kind::Complaint, Some("<m1.y@example.com>"))
        );
        assert!(events(&serde_json::json!({"notificationType": "Delivery"}), "x").is_empty());
    }
}
