//! SendGrid's signed event webhook: `X-Twilio-Email-Event-Webhook-Signature` (base64 of an
//! ECDSA P-256 SHA-256 signature, ASN.1) over `X-Twilio-Email-Event-Webhook-Timestamp` +
//! the raw body, checked with the verification key SendGrid shows (base64 DER
//! SubjectPublicKeyInfo) through webpki/ring. The body is an array of events: `bounce` (type
//! `bounce`: hard; `blocked`: soft), `spamreport`, `unsubscribe` / `group_unsubscribe`; the
//! rest (`delivered`, `deferred`, `dropped`, opens, clicks) is nothing. `smtp-id` is the
//! original `Message-ID`.

use super::{Event, Refused, angle};
use crate::inbound::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio_rustls::rustls::pki_types::SubjectPublicKeyInfoDer;

/// Timestamps further than this from now are refused (replays).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Verifies the signed `body` with `public_key` (base64 DER) at `now` and reads its events.
pub fn verify(public_key: &str, signature: Option<&str>, timestamp: Option<&str>, body: &[u8], now: i64) -> Result<Vec<Event>, Refused> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(Refused::Missing);
    };
    let der = STANDARD
        .decode(public_key.trim())
        .map_err(|_| Refused::Bad("[inbound.sendgrid] public_key is not base64".into()))?;
    let spki = SubjectPublicKeyInfoDer::from(der.as_slice());
    let key = webpki::RawPublicKeyEntity::try_from(&spki).map_err(|e| Refused::Bad(format!("public key: {e:?}")))?;
    let sig = STANDARD
        .decode(signature.trim())
        .map_err(|_| Refused::Bad("signature is not base64".into()))?;
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    key.verify_signature(webpki::ring::ECDSA_P256_SHA256, &signed, &sig)
        .map_err(|_| Refused::Bad("signature does not match".into()))?;
    let at: i64 = timestamp.trim().parse().map_err(|_| Refused::Bad("timestamp".into()))?;
    if (now - at).abs() > MAX_SKEW_SECS {
        return Err(Refused::Bad(format!("timestamp {at} is more than 15 minutes from now")));
    }
    let events: Vec<serde_json::Value> = serde_json::from_slice(body).map_err(|e| Refused::Malformed("SendGrid", e.to_string()))?;
    Ok(events.iter().map(event).collect())
}

fn event(e: &serde_json::Value) -> Event {
    let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
    let kind = match (e["event"].as_str(), e["type"].as_str()) {
        (Some("bounce"), Some("blocked")) => Kind::SoftBounce,
        (Some("bounce"), _) => Kind::HardBounce,
        (Some("spamreport"), _) => Kind::Complaint,
        (Some("unsubscribe" | "group_unsubscribe"), _) => Kind::Unsubscribe,
        _ => Kind::Nothing,
    };
    let evidence = ["status", "reason"]
        .iter()
        .map(|k| text(k))
        .filter(|s| !s.is_empty())
        .fold(format!("sendgrid {}", text("event")), |acc, s| format!("{acc} {s}"));
    Event {
        id: format!("sendgrid:{}", text("sg_event_id")),
        kind,
        message_id: e["smtp-id"].as_str().map(angle),
        recipient: text("email"),
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_a_batch() {
        let e = event(
            &serde_json::json!({"email": "a@example.com", "event": "bounce", "type": "bounce", "status": "5.1.1",
            "reason": "550 5.1.1 unknown", "sg_event_id": "sg-1", "smtp-id": "<m1.x@example.com>"}),
        );
        assert_eq!(
            (e.kind, e.id.as_str(), e.message_id.as_deref()),
            (Kind::HardBounce, "sendgrid:sg-1", Some("<m1.x@example.com>"))
        );
        assert_eq!(e.evidence, "sendgrid bounce 5.1.1 550 5.1.1 unknown");
        let blocked = event(&serde_json::json!({"event": "bounce", "type": "blocked"}));
        assert_eq!(blocked.kind, Kind::SoftBounce);
        assert_eq!(event(&serde_json::json!({"event": "spamreport"})).kind, Kind::Complaint);
        assert_eq!(event(&serde_json::json!({"event": "delivered"})).kind, Kind::Nothing);
    }

    #[test]
    fn unsigned_or_garbled_requests_are_refused() {
        assert_eq!(verify("AAAA", None, Some("1"), b"[]", 1), Err(Refused::Missing));
        assert!(matches!(verify("!!", Some("AAAA"), Some("1"), b"[]", 1), Err(Refused::Bad(_))));
    }
}
