//! Sending: the email transports ([`EmailSender`]: SMTP pool or `.eml` outbox) and SMS
//! transports ([`SmsSender`]: Twilio API or JSON-lines outbox). Every error is classified
//! ([`SendError`]): the recipient refused for good, the relay or provider refused *us*, a
//! transient failure, or an unknown outcome after the message had left.

pub mod breaker;
pub mod dkim;
pub mod mime;
pub mod outbox;
pub mod smtp;
pub mod twilio;

use crate::compliance::Cleared;
use crate::config::Config;
use crate::render::RenderedSms;

/// A failed send, classified.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    /// The recipient is refused for good (SMTP 5xx, SMS 4xx): record and never retry.
    #[error("permanent: {message}")]
    Permanent {
        /// Server's answer.
        message: String,
        /// True when the address itself is bad or unsubscribed (it should be suppressed).
        bounce: bool,
    },
    /// Try again later (SMTP 4xx, timeouts, connection errors, HTTP 429 / 5xx) — nothing was
    /// delivered.
    #[error("transient: {0}")]
    Transient(String),
    /// The relay or SMS provider refuses the sender, the content, the credentials or a
    /// policy (SMTP 5xx at MAIL FROM, AUTH, DATA or after the data; HTTP 401/403/404). Not
    /// the recipient's fault: never suppress it, never close the delivery; keep it queued and
    /// count it towards the circuit breaker.
    #[error("refused by the relay: {0}")]
    Refused(String),
    /// The message data left but the reply was lost (timeout or reset after the data): it
    /// may have been accepted. Never re-sent on a fresh connection by the same attempt.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// How email leaves this process.
pub enum EmailSender {
    /// A pool of SMTP connections.
    Smtp(Box<smtp::SmtpPool>),
    /// `.eml` files in a folder.
    Outbox(outbox::EmlOutbox),
}

impl EmailSender {
    /// Picks the transport from `smtp.url`.
    pub fn from_config(config: &Config) -> Result<EmailSender, String> {
        let url = config.smtp.url.expose();
        if let Some(dir) = url.strip_prefix("file://") {
            let dir = config.resolve(std::path::Path::new(dir));
            return Ok(EmailSender::Outbox(outbox::EmlOutbox::new(dir)));
        }
        Ok(EmailSender::Smtp(Box::new(smtp::SmtpPool::from_config(&config.smtp)?)))
    }

    /// The same transport as one of `lanes` sharing `[smtp] pool_size` and `rate_per_second`.
    pub fn one_of(self, lanes: usize) -> EmailSender {
        match self {
            EmailSender::Smtp(pool) => EmailSender::Smtp(Box::new(pool.one_of(lanes))),
            outbox => outbox,
        }
    }

    /// Sends a composed email, DKIM-signed when a signer is given.
    pub async fn send(&self, email: crate::compose::Email, signer: Option<&dkim::Signer>) -> Result<(), SendError> {
        let mut message = email.message;
        if let Some(signer) = signer {
            signer.sign(&mut message);
        }
        let formatted = message.formatted();
        match self {
            EmailSender::Smtp(pool) => pool.send(email.content.to(), &email.from, &formatted).await,
            EmailSender::Outbox(outbox) => outbox.write(&email.message_id, formatted.as_bytes()).await,
        }
    }

    /// The startup health check ([`smtp::SmtpPool::check`]; an outbox folder must take files).
    pub async fn check(&self) -> Result<(), SendError> {
        match self {
            EmailSender::Smtp(pool) => pool.check().await,
            EmailSender::Outbox(outbox) => outbox.check().await,
        }
    }

    /// Short description for logs and `status` (no credentials).
    pub fn describe(&self) -> String {
        match self {
            EmailSender::Smtp(p) => p.describe(),
            EmailSender::Outbox(o) => format!("outbox {}", o.dir().display()),
        }
    }
}

/// How SMS leave this process.
pub enum SmsSender {
    /// Twilio's Messages API.
    Twilio(twilio::Twilio),
    /// A JSON-lines file.
    Outbox(outbox::SmsOutbox),
}

impl SmsSender {
    /// Picks the transport from `sms.provider`.
    pub fn from_config(config: &Config) -> Result<SmsSender, String> {
        match config.sms.provider.as_str() {
            "twilio" => Ok(SmsSender::Twilio(twilio::Twilio::from_config(&config.sms)?)),
            _ => Ok(SmsSender::Outbox(outbox::SmsOutbox::new(
                config.resolve(std::path::Path::new(&config.sms.outbox)),
            ))),
        }
    }

    /// The startup health check ([`twilio::Twilio::check`]; an outbox's folder must exist).
    pub async fn check(&self) -> Result<(), SendError> {
        match self {
            SmsSender::Twilio(t) => t.check().await,
            SmsSender::Outbox(o) => o.check().await,
        }
    }

    /// Sends one cleared SMS; `id` is the once-only delivery key.
    pub async fn send(&self, sms: &Cleared<RenderedSms>, id: &str) -> Result<(), SendError> {
        match self {
            SmsSender::Twilio(t) => t.send(sms.to(), &sms.message().body).await,
            SmsSender::Outbox(o) => o.append(sms.to(), &sms.message().body, id).await,
        }
    }
}
