//! SMS compliance rules: opt-out keywords (CTIA / Twilio, plus Arabic), quiet hours in the
//! contact's local time, and Twilio webhook signatures (`X-Twilio-Signature`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};

/// What an inbound message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// Stop all marketing SMS to this number.
    Stop,
    /// Subscribe again.
    Start,
    /// Anything else (a reply for the agent).
    Other,
}

const STOP: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPT OUT",
    "OPTOUT",
    "توقف",
    "إلغاء",
    "الغاء",
];
const START: &[&str] = &["START", "UNSTOP", "YES"];

/// Classifies an inbound body: the whole message, trimmed, any case, inner spaces collapsed.
pub fn keyword(body: &str) -> Keyword {
    let normalized = body.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
    let normalized = normalized.trim_end_matches(['.', '!']);
    if STOP.contains(&normalized) {
        Keyword::Stop
    } else if START.contains(&normalized) {
        Keyword::Start
    } else {
        Keyword::Other
    }
}

/// A daily window in local time when marketing SMS must not be sent, e.g. `21:00-08:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Quiet from (inclusive).
    pub from: NaiveTime,
    /// Open again at (exclusive end of the quiet window).
    pub until: NaiveTime,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(s: &str) -> Result<QuietHours, String> {
        let (a, b) = s.split_once('-').ok_or_else(|| format!("expected HH:MM-HH:MM, got {s:?}"))?;
        let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").map_err(|_| format!("expected HH:MM-HH:MM, got {s:?}"));
        Ok(QuietHours { from: t(a)?, until: t(b)? })
    }

    fn is_quiet(&self, t: NaiveTime) -> bool {
        if self.from <= self.until {
            t >= self.from && t < self.until
        } else {
            t >= self.from || t < self.until
        }
    }

    /// `None` if `now` is inside the open window in `tz`; else the next instant it opens.
    pub fn next_open(&self, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&tz);
        if !self.is_quiet(local.time()) {
            return None;
        }
        let mut day = local.date_naive();
        if local.time() >= self.until {
            day = day.succ_opt()?;
        }
        // The first valid local instant at or after `until` (DST gaps move it forward).
        (0..180)
            .find_map(|m| {
                tz.from_local_datetime(&day.and_time(self.until + chrono::Duration::minutes(m)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Twilio's request signature: base64(HMAC-SHA1(auth_token, url + sorted `key value` pairs)).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a received signature in constant time.
pub fn verify_twilio(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let expected = twilio_signature(auth_token, url, params);
    let (a, b) = (expected.as_bytes(), signature.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_any_case_trimmed_arabic() {
        for s in [
            "STOP",
            " stop ",
            "Stop.",
            "opt out",
            "OPT   OUT",
            "OptOut",
            "stopall",
            "revoke",
            "توقف",
            " إلغاء ",
        ] {
            assert_eq!(keyword(s), Keyword::Stop, "{s}");
        }
        for s in ["start", "UNSTOP", "Yes"] {
            assert_eq!(keyword(s), Keyword::Start, "{s}");
        }
        for s in ["please stop by tomorrow", "stopp", ""] {
            assert_eq!(keyword(s), Keyword::Other, "{s}");
        }
    }

    fn params(caller: &str) -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", caller),
            ("Digits", "1234"),
            ("From", caller),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The worked example of Twilio's "validating requests" documentation (both published
    /// versions of it: the caller number changed between them).
    #[test]
    fn twilio_published_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            twilio_signature("12345", url, &params("+12349013030")),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert_eq!(
            twilio_signature("12345", url, &params("+14158675310")),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
        assert!(verify_twilio("12345", url, &params("+14158675310"), "GvWf1cFY/Q7PnoempGyD5oXAezc="));
        assert!(!verify_twilio(
            "12345",
            url,
            &params("+14158675310"),
            "GvWf1cFY/Q7PnoempGyD5oXAezd="
        ));
        assert!(!verify_twilio(
            "wrong",
            url,
            &params("+14158675310"),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        ));
        assert!(!verify_twilio("12345", url, &params("+14158675310"), ""));
    }

    #[test]
    fn quiet_hours_defer_to_next_morning_in_contact_time() {
        let q = QuietHours::parse("21:00-08:00").unwrap();
        let tz: Tz = "America/Chicago".parse().unwrap();
        // 2026-11-20 22:30 in Chicago (UTC-6) = 2026-11-21 04:30 UTC
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 4, 30, 0).unwrap();
        assert_eq!(q.next_open(now, tz), Some(Utc.with_ymd_and_hms(2026, 11, 21, 14, 0, 0).unwrap()));
        // 06:00 local: opens at 08:00 the same day
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap();
        assert_eq!(q.next_open(now, tz), Some(Utc.with_ymd_and_hms(2026, 11, 21, 14, 0, 0).unwrap()));
        // 12:00 local: open
        assert_eq!(q.next_open(Utc.with_ymd_and_hms(2026, 11, 21, 18, 0, 0).unwrap(), tz), None);
        let riyadh: Tz = "Asia/Riyadh".parse().unwrap();
        assert!(
            q.next_open(Utc.with_ymd_and_hms(2026, 11, 21, 18, 30, 0).unwrap(), riyadh)
                .is_some(),
            "21:30 in Riyadh is quiet"
        );
    }
}
