//! Mailgun's event webhook: a JSON body with `signature {timestamp, token, signature}` —
//! HMAC-SHA256 of `timestamp + token` under the webhook signing key — and `event-data`.
//! Timestamps older than 15 minutes are refused; a token is accepted once (the caller keeps
//! it, [`TOKEN_SECS`]). `failed` with `severity: permanent` is a hard bounce (a temporary one
//! is Mailgun still retrying: nothing), `complained` a complaint, `unsubscribed` an opt-out.

use super::{Event, Refused, angle};
use crate::inbound::Kind;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a signature stays acceptable, and its token remembered.
pub const TOKEN_SECS: i64 = 15 * 60;

/// A verified request: its event and the token to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The event.
    pub event: Event,
    /// The signature's token (refused when seen again).
    pub token: String,
}

/// Verifies `body` with `signing_key` at `now` (unix seconds) and reads its event.
pub fn verify(signing_key: &str, body: &[u8], now: i64) -> Result<Verified, Refused> {
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| Refused::Malformed("Mailgun", e.to_string()))?;
    let sig = &v["signature"];
    let (Some(timestamp), Some(token), Some(signature)) = (sig["timestamp"].as_str(), sig["token"].as_str(), sig["signature"].as_str())
    else {
        return Err(Refused::Missing);
    };
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(signing_key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(token.as_bytes());
    let given = hex::decode(signature).map_err(|_| Refused::Bad("signature is not hex".into()))?;
    mac.verify_slice(&given)
        .map_err(|_| Refused::Bad("signature does not match".into()))?;
    let at: i64 = timestamp.parse().map_err(|_| Refused::Bad("timestamp".into()))?;
    if (now - at).abs() > TOKEN_SECS {
        return Err(Refused::Bad(format!("timestamp {at} is more than 15 minutes from now")));
    }
    let e = &v["event-data"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let status = &e["delivery-status"];
    let kind = match (e["event"].as_str(), e["severity"].as_str()) {
        (Some("failed"), Some("permanent")) => Kind::HardBounce,
        (Some("complained"), _) => Kind::Complaint,
        (Some("unsubscribed"), _) => Kind::Unsubscribe,
        _ => Kind::Nothing,
    };
    let mut evidence = format!("mailgun {}", text(&e["event"]));
    for part in [
        status["code"].to_string(),
        text(&status["message"]),
        text(&status["description"]),
        text(&e["reason"]),
    ] {
        if !part.is_empty() && part != "null" {
            evidence.push(' ');
            evidence.push_str(&part);
        }
    }
    Ok(Verified {
        event: Event {
            id: format!("mailgun:{}", text(&e["id"])),
            kind,
            message_id: e["message"]["headers"]["message-id"].as_str().map(angle),
            recipient: text(&e["recipient"]),
            evidence,
        },
        token: token.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(key: &str, timestamp: i64, token: &str, event: serde_json::Value) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{timestamp}{token}").as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        serde_json::json!({"signature": {"timestamp": timestamp.to_string(), "token": token, "signature": signature}, "event-data": event})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_signed_permanent_failure_is_a_hard_bounce() {
        let event = serde_json::json!({"id": "ev-1", "event": "failed", "severity": "permanent", "recipient": "ann@example.com",
            "message": {"headers": {"message-id": "m1.abc@example.com"}},
            "delivery-status": {"code": 550, "message": "5.1.1 no such user"}});
        let v = verify("key-1", &signed("key-1", 1_000, "tok", event.clone()), 1_100).unwrap();
        assert_eq!(
            (v.event.kind, v.event.message_id.as_deref()),
            (Kind::HardBounce, Some("<m1.abc@example.com>"))
        );
        assert_eq!(v.event.evidence, "mailgun failed 550 5.1.1 no such user");
        assert_eq!((v.event.id.as_str(), v.token.as_str()), ("mailgun:ev-1", "tok"));
        assert!(matches!(
            verify("key-2", &signed("key-1", 1_000, "tok", event.clone()), 1_100),
            Err(Refused::Bad(_))
        ));
        assert!(matches!(
            verify("key-1", &signed("key-1", 1_000, "tok", event.clone()), 1_000 + 16 * 60),
            Err(Refused::Bad(_))
        ));
        assert!(matches!(verify("key-1", br#"{"event-data": {}}"#, 1_000), Err(Refused::Missing)));
        let temporary = serde_json::json!({"id": "ev-2", "event": "failed", "severity": "temporary"});
        assert_eq!(
            verify("key-1", &signed("key-1", 1_000, "t2", temporary), 1_000).unwrap().event.kind,
            Kind::Nothing
        );
    }
}
