//! Twilio's Messages API: `POST {base_url}/2010-04-01/Accounts/{sid}/Messages.json`, form
//! fields `To`, `From`, `Body`, HTTP basic auth. 429 and 5xx are transient; 401, 403 and 404
//! (credentials, account, wrong URL) are the provider refusing *us* ([`SendError::Refused`]:
//! the circuit breaker, never a bounce); other 4xx are permanent for the message, and errors
//! 21610 (recipient unsubscribed) / 21211 / 21614 (invalid number) mark a bounce. A request
//! that was sent but whose answer never came is [`SendError::Unknown`] (it may have been
//! accepted and paid for); a connection that failed before the request left is transient.

use super::SendError;
use crate::config::{Secret, SmsConfig};
use std::time::Duration;

/// A Twilio client.
pub struct Twilio {
    http: reqwest::Client,
    url: String,
    sid: String,
    token: Secret,
    from: String,
}

impl Twilio {
    /// Builds the client from `[sms]`.
    pub fn from_config(c: &SmsConfig) -> Result<Twilio, String> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(c.timeout_secs.max(1)))
            .build()
            .map_err(|e| format!("[sms] HTTP client: {e}"))?;
        Ok(Twilio {
            http,
            url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                c.base_url.trim_end_matches('/'),
                c.account_sid
            ),
            sid: c.account_sid.clone(),
            token: c.auth_token.clone(),
            from: c.from.clone(),
        })
    }

    /// The startup health check: reads the account (`GET …/Accounts/{sid}.json`, free), which
    /// proves the URL, the account and the credentials without sending anything.
    pub async fn check(&self) -> Result<(), SendError> {
        let account = self.url.trim_end_matches("/Messages.json").to_string() + ".json";
        let response = self
            .http
            .get(&account)
            .basic_auth(&self.sid, Some(self.token.expose()))
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("SMS API: {}", e.without_url())))?;
        match response.status() {
            s if s.is_success() => Ok(()),
            s if matches!(s.as_u16(), 401 | 403 | 404) => Err(SendError::Refused(format!("SMS API answered {s} to the account check"))),
            s => Err(SendError::Transient(format!("SMS API answered {s} to the account check"))),
        }
    }

    /// Sends one message.
    pub async fn send(&self, to: &str, body: &str) -> Result<(), SendError> {
        let form = [("To", to), ("From", self.from.as_str()), ("Body", body)];
        let response = self
            .http
            .post(&self.url)
            .basic_auth(&self.sid, Some(self.token.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let before_sending = e.is_connect() || e.is_builder();
                let text = format!("SMS API: {}", e.without_url());
                if before_sending {
                    SendError::Transient(text)
                } else {
                    // Timeout or reset after the request was written: it may have been sent.
                    SendError::Unknown(text)
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let code = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("code").and_then(|c| c.as_i64()));
        let message = format!(
            "SMS API answered {status}{}",
            code.map(|c| format!(" (error {c})")).unwrap_or_default()
        );
        if status.as_u16() == 429 || status.is_server_error() {
            Err(SendError::Transient(message))
        } else if matches!(status.as_u16(), 401 | 403 | 404) || code == Some(20003) {
            Err(SendError::Refused(message))
        } else {
            Err(SendError::Permanent {
                message,
                bounce: matches!(code, Some(21610) | Some(21211) | Some(21614)),
            })
        }
    }
}
