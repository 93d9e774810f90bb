//! Postmark's bounce, spam-complaint and subscription-change webhooks, behind the basic-auth
//! credentials of the webhook URL (`[inbound.postmark] user`, `password`; compared in constant
//! time). Postmark does not report the original `Message-ID`; nurture puts its delivery
//! reference in `X-PM-Metadata-nurture` on every email when Postmark is configured, and
//! Postmark echoes it as `Metadata.nurture`. Without it, the raw bounce (`Content`, when the
//! webhook includes it) is read for the quoted original. `HardBounce` and `BadEmailAddress`
//! are hard bounces, `SoftBounce` soft, `SpamComplaint` a complaint, `Unsubscribe` (and a
//! subscription change the recipient asked for) an opt-out, `AutoResponder` an auto-reply.

use super::{Event, Refused};
use crate::inbound::Kind;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Checks `Authorization: Basic …` against the configured user and password.
pub fn verify(authorization: Option<&str>, user: &str, password: &str) -> Result<(), Refused> {
    let Some(given) = authorization.and_then(|a| a.strip_prefix("Basic ")) else {
        return Err(Refused::Missing);
    };
    let decoded = STANDARD
        .decode(given.trim())
        .map_err(|_| Refused::Bad("credentials are not base64".into()))?;
    let tag = |v: &[u8]| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"nurture-postmark-v1").expect("HMAC takes keys of any length");
        m.update(v);
        m
    };
    let expected = format!("{user}:{password}");
    tag(&decoded)
        .verify_slice(&tag(expected.as_bytes()).finalize().into_bytes())
        .map_err(|_| Refused::Bad("wrong credentials".into()))
}

/// The event of one webhook body.
pub fn event(body: &[u8]) -> Result<Event, Refused> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Refused::Malformed("Postmark", e.to_string()))?;
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let record = text("RecordType");
    let kind = match (record.as_str(), v["Type"].as_str()) {
        ("SpamComplaint", _) | (_, Some("SpamComplaint")) => Kind::Complaint,
        ("Bounce", Some("HardBounce" | "BadEmailAddress")) => Kind::HardBounce,
        ("Bounce", Some("SoftBounce")) => Kind::SoftBounce,
        ("Bounce", Some("Unsubscribe")) => Kind::Unsubscribe,
        ("Bounce", Some("AutoResponder")) => Kind::AutoReply,
        ("SubscriptionChange", _) if v["SuppressSending"] == true && v["SuppressionReason"] == "ManualSuppression" => Kind::Unsubscribe,
        _ => Kind::Nothing,
    };
    let reference = v["Metadata"]["nurture"].as_str().map(str::to_string);
    let quoted = || {
        let content = v["Content"].as_str()?;
        crate::inbound::read::read(content.as_bytes())?.quoted_ids.into_iter().next()
    };
    let evidence = ["Type", "Description", "Details"]
        .iter()
        .map(|k| text(k))
        .filter(|s| !s.is_empty())
        .fold(format!("postmark {}", record.to_lowercase()), |acc, s| format!("{acc} {s}"));
    Ok(Event {
        id: format!("postmark:{record}:{}", v["ID"]),
        kind,
        message_id: reference.or_else(quoted),
        recipient: v["Email"].as_str().or(v["Recipient"].as_str()).unwrap_or_default().to_string(),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_events() {
        let basic = format!("Basic {}", STANDARD.encode("hooks:s3cret"));
        assert_eq!(verify(Some(&basic), "hooks", "s3cret"), Ok(()));
        assert!(matches!(verify(Some(&basic), "hooks", "other"), Err(Refused::Bad(_))));
        assert_eq!(verify(None, "hooks", "s3cret"), Err(Refused::Missing));
        let e = event(br#"{"RecordType":"Bounce","ID":42,"Type":"HardBounce","Email":"a@example.com","Description":"The server was unable to deliver your message","Details":"550 5.1.1 unknown","Metadata":{"nurture":"m1.abc"}}"#).unwrap();
        assert_eq!(
            (e.kind, e.id.as_str(), e.message_id.as_deref()),
            (Kind::HardBounce, "postmark:Bounce:42", Some("m1.abc"))
        );
        assert!(e.evidence.starts_with("postmark bounce HardBounce"), "{}", e.evidence);
        let c = event(br#"{"RecordType":"SpamComplaint","ID":7,"Type":"SpamComplaint","Email":"b@example.com"}"#).unwrap();
        assert_eq!(c.kind, Kind::Complaint);
        let d = event(br#"{"RecordType":"Delivery","ID":8}"#).unwrap();
        assert_eq!(d.kind, Kind::Nothing);
    }
}
