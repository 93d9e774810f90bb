//! `[inbound]`: where returning mail is read (an IMAP mailbox, `POST /inbound/email`) and
//! the rules applied to it (soft bounces in a row, the complaint and bounce guard). Its own file: the section is large and stands alone.

use super::Secret;
use serde::{Deserialize, Serialize};

/// `[inbound]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// `imaps://user:password@host:993/INBOX` (`imap://` only on loopback); empty: no mailbox.
    pub imap: Secret,
    /// PEM file of a private CA the IMAP server's certificate is signed by (else the public
    /// roots).
    pub ca_file: String,
    /// Bearer token of `POST /inbound/email`; empty: the route is off (404).
    pub token: Secret,
    /// `serve` fetches the mailbox every this many seconds (0: never; `nurture inbound fetch`
    /// from cron instead).
    pub every_secs: u64,
    /// Folder handled messages are moved to (created when missing); empty: they stay in the
    /// inbox, marked `\Seen`.
    pub done_folder: String,
    /// Soft bounces of one address in a row that suppress it.
    pub soft_bounce_limit: u32,
    /// Complaint rate (percent of the emails accepted in the last 7 days) above which email
    /// stops.
    pub complaint_limit: f64,
    /// Hard-bounce rate (percent, last 7 days) above which email stops.
    pub bounce_limit: f64,
    /// Below this many emails accepted in the last 7 days the guard only warns.
    pub complaint_min_sent: u64,
    /// Seconds one IMAP step (connect, login, a fetch) may take before the fetch gives up.
    pub timeout_secs: u64,
    /// Messages larger than this many bytes are left for a person, unread.
    pub max_message_bytes: u64,
    /// The envelope sender of contact emails as `local+TAG@domain` (VERP): bounces come back to
    /// an address that names the delivery, also when they quote nothing of it. Empty: the
    /// sender's address.
    pub return_path: String,
    /// Copy each reply to the contact's agent (`[agents.NAME] email`, else `[sender] email`),
    /// `Reply-To` the contact.
    pub forward_replies: bool,
    /// `[inbound.mailgun]`: Mailgun's event webhook.
    pub mailgun: MailgunConfig,
    /// `[inbound.sendgrid]`: SendGrid's signed event webhook.
    pub sendgrid: SendgridConfig,
    /// `[inbound.ses]`: Amazon SES notifications through SNS.
    pub ses: SesConfig,
    /// `[inbound.postmark]`: Postmark's bounce and spam-complaint webhooks.
    pub postmark: PostmarkConfig,
}

/// `[inbound.postmark]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostmarkConfig {
    /// The basic-auth user of the webhook URL (`https://user:password@host/inbound/postmark`);
    /// empty: the route is off. Set, every email carries `X-PM-Metadata-nurture` (its
    /// delivery reference), which Postmark echoes in its webhooks.
    pub user: String,
    /// The basic-auth password.
    pub password: Secret,
}

/// `[inbound.mailgun]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailgunConfig {
    /// The HTTP webhook signing key (Mailgun: Sending → Webhooks); empty: the route is off.
    pub signing_key: Secret,
}

/// `[inbound.sendgrid]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SendgridConfig {
    /// The verification key of the signed event webhook, base64 DER as SendGrid shows it;
    /// empty: the route is off.
    pub public_key: String,
}

/// `[inbound.ses]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SesConfig {
    /// The ARN of the SNS topic SES publishes bounces and complaints to; empty: the route is
    /// off. Messages of any other topic are refused.
    pub topic_arn: String,
    /// Where SNS signing certificates may come from: empty (the default) trusts only
    /// `https://sns.<region>.amazonaws.com/` (the certificate is then authenticated by that
    /// HTTPS fetch); a test sets its own server here.
    pub certificate_url_prefix: String,
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            imap: Secret::default(),
            ca_file: String::new(),
            token: Secret::default(),
            every_secs: 300,
            done_folder: "nurture-done".into(),
            soft_bounce_limit: 3,
            complaint_limit: 0.3,
            bounce_limit: 5.0,
            complaint_min_sent: 1_000,
            timeout_secs: 30,
            max_message_bytes: 10 * 1024 * 1024,
            return_path: String::new(),
            forward_replies: false,
            mailgun: MailgunConfig::default(),
            sendgrid: SendgridConfig::default(),
            ses: SesConfig::default(),
            postmark: PostmarkConfig::default(),
        }
    }
}

/// Where the mailbox is: parsed from `[inbound] imap`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapTarget {
    /// TLS from the first byte (`imaps://`).
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (993 for imaps, 143 for imap by default).
    pub port: u16,
    /// Login name.
    pub user: String,
    /// Password (an app password for Gmail / Microsoft 365).
    pub password: String,
    /// The folder read (`INBOX` by default).
    pub folder: String,
}

impl std::fmt::Debug for ImapTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}/{}",
            if self.tls { "imaps" } else { "imap" },
            self.user,
            self.host,
            self.port,
            self.folder
        )
    }
}

impl InboundConfig {
    /// The mailbox, `Ok(None)` when none is configured, or why the URL cannot be used.
    pub fn imap_target(&self) -> Result<Option<ImapTarget>, String> {
        let raw = self.imap.expose();
        if raw.is_empty() {
            return Ok(None);
        }
        let url =
            url::Url::parse(raw).map_err(|e| format!("[inbound] imap: not a URL ({e}); write imaps://user:password@host:993/INBOX"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => {
                return Err(format!(
                    "[inbound] imap: scheme {other:?}: use imaps://user:password@host:993/INBOX"
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("[inbound] imap: no host (imaps://user:password@host:993/INBOX)")?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        if !tls && !is_loopback(&host) {
            return Err(format!(
                "[inbound] imap: imap:// sends the password in clear; use imaps:// (port 993) for {host:?} (plain imap is allowed on loopback only)"
            ));
        }
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let user = decode(url.username());
        if user.is_empty() {
            return Err("[inbound] imap: no user name (imaps://user:password@host:993/INBOX)".into());
        }
        let folder = decode(url.path().trim_start_matches('/'));
        Ok(Some(ImapTarget {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password: decode(url.password().unwrap_or_default()),
            folder: if folder.is_empty() { "INBOX".into() } else { folder },
        }))
    }

    /// Problems of the section (each names its key); empty when it is fine.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = self.imap_target() {
            out.push(e);
        }
        for (key, v) in [("complaint_limit", self.complaint_limit), ("bounce_limit", self.bounce_limit)] {
            if !v.is_finite() || v <= 0.0 || v > 100.0 {
                out.push(format!("[inbound] {key}: {v} is not a percentage above 0 (0.3 means 0.3 %)"));
            }
        }
        if self.soft_bounce_limit == 0 {
            out.push("[inbound] soft_bounce_limit: must be at least 1".into());
        }
        if !self.sendgrid.public_key.is_empty() {
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD
                .decode(self.sendgrid.public_key.trim())
                .is_err()
            {
                out.push("[inbound.sendgrid] public_key: not base64 (paste the verification key as SendGrid shows it)".into());
            }
        }
        if !self.postmark.user.is_empty() && self.postmark.password.is_empty() {
            out.push("[inbound.postmark] password: required with user (the webhook's basic-auth credentials)".into());
        }
        if !self.return_path.is_empty() && self.return_path.parse::<lettre::Address>().is_err() {
            out.push(format!(
                "[inbound] return_path: {:?} is not an email address (bounces@your-domain)",
                self.return_path
            ));
        }
        if self.timeout_secs == 0 {
            out.push("[inbound] timeout_secs: must be at least 1".into());
        }
        out
    }
}

/// True for `localhost` and loopback addresses.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(imap: &str) -> InboundConfig {
        InboundConfig {
            imap: Secret::new(imap),
            ..Default::default()
        }
    }

    #[test]
    fn imap_urls() {
        let t = with("imaps://bounces%40example.com:p%40ss@imap.example.com/Bounces")
            .imap_target()
            .unwrap()
            .unwrap();
        assert_eq!((t.tls, t.port, t.host.as_str()), (true, 993, "imap.example.com"));
        assert_eq!(
            (t.user.as_str(), t.password.as_str(), t.folder.as_str()),
            ("bounces@example.com", "p@ss", "Bounces")
        );
        let local = with("imap://u:p@127.0.0.1:1143").imap_target().unwrap().unwrap();
        assert_eq!((local.tls, local.port, local.folder.as_str()), (false, 1143, "INBOX"));
        assert!(format!("{local:?}").contains("u@127.0.0.1") && !format!("{local:?}").contains(":p@"));
        let clear = with("imap://u:p@mail.example.com").imap_target().unwrap_err();
        assert!(clear.contains("imaps://"), "{clear}");
        assert!(with("pop3://u:p@x").imap_target().is_err());
        assert!(with("imaps://host-without-user").imap_target().is_err());
        assert_eq!(with("").imap_target().unwrap(), None);
    }

    #[test]
    fn limits_are_percentages() {
        let c = InboundConfig {
            complaint_limit: 0.0,
            ..Default::default()
        };
        assert!(c.problems()[0].contains("complaint_limit"), "{:?}", c.problems());
        assert!(InboundConfig::default().problems().is_empty());
    }
}
