//! `nurture.toml` + `NURTURE_<SECTION>_<KEY>` environment overrides → [`Config`].
//!
//! Owns every configuration key, its default, and the rule that secrets never
//! appear in `Debug`, logs or `--json` output ([`Secret`]).

use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::path::{Path, PathBuf};

mod inbound;
mod webhooks;
pub use inbound::{ImapTarget, InboundConfig, MailgunConfig, PostmarkConfig, SendgridConfig, SesConfig};
pub use webhooks::{EVENTS as WEBHOOK_EVENTS, WebhookConfig};

/// A configuration error; always names the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists but could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed, a key is unknown, missing, or has the wrong type.
    #[error("{}", located(path, *line, *col, message))]
    Invalid {
        /// The file (or the environment variable that broke it).
        path: String,
        /// 1-based line of the problem in the file (0: unknown, e.g. an environment variable).
        line: usize,
        /// 1-based column (0: unknown).
        col: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// Several problems, each reported (one fix per try would take as many tries).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

/// `file:line:col: message` when the position is known, else `file: message`.
fn located(path: &str, line: usize, col: usize, message: &str) -> String {
    if line > 0 {
        format!("{path}:{line}:{}: {message}", col.max(1))
    } else {
        format!("{path}: {message}")
    }
}

/// A secret value: printed as `***` by `Debug`, `Display` and `Serialize`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret string.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no secret was configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "***" })
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[redis]`
    pub redis: RedisConfig,
    /// `[sender]`
    pub sender: SenderConfig,
    /// `[smtp]`
    pub smtp: SmtpConfig,
    /// `[sms]`
    pub sms: SmsConfig,
    /// `[unsubscribe]`
    pub unsubscribe: UnsubscribeConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[schedule]`
    pub schedule: ScheduleConfig,
    /// `[delivery]`
    pub delivery: DeliveryConfig,
    /// `[contacts]`
    pub contacts: ContactsConfig,
    /// `[paths]`
    pub paths: PathsConfig,
    /// `[privacy]`
    pub privacy: PrivacyConfig,
    /// `[dkim]`
    pub dkim: DkimSettings,
    /// `[agenda]`
    pub agenda: AgendaConfig,
    /// `[pipeline]`
    pub pipeline: PipelineConfig,
    /// `[report]`
    pub report: ReportConfig,
    /// `[agents.NAME]`, by the name contacts' `agent` column uses.
    pub agents: std::collections::BTreeMap<String, AgentConfig>,
    /// `[leads]`
    pub leads: LeadsConfig,
    /// `[assign]`
    pub assign: AssignConfig,
    /// `[inbound]`
    pub inbound: InboundConfig,
    /// `[[webhooks]]`
    pub webhooks: Vec<WebhookConfig>,
    /// Folder the config was read from; relative paths are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// Where the config came from (`nurture.toml`, or `(embedded defaults)`).
    #[serde(skip)]
    pub source: String,
}

/// `[redis]`: where the queue, contacts, ledger and suppression list live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:port/db`
    pub url: Secret,
    /// Every key this program writes starts with `{prefix}:`.
    pub prefix: String,
    /// PEM file of the CA that signed the server's certificate (`rediss://`); empty: the
    /// system's CAs.
    pub ca_file: String,
    /// Sentinel addresses (`host:port`); with `master`, Sentinel names the primary and `url`
    /// gives only its scheme, user, password and database.
    pub sentinel: Vec<String>,
    /// The name Sentinel monitors the primary under.
    pub master: String,
    /// Replicas an opt-out or bounce must reach before it is acknowledged (Redis `WAIT`);
    /// unset: 1 behind Sentinel, else 0.
    pub wait_replicas: Option<u32>,
    /// How long an opt-out waits for them, in milliseconds.
    pub wait_ms: u64,
    /// Redis Cluster (or Valkey Cluster, a managed cluster endpoint): `url` is any node; every
    /// key carries the hash tag `{prefix}`, so one installation lives in one slot and its
    /// primary is followed across resharding and failover.
    pub cluster: bool,
}

impl RedisConfig {
    /// What every key starts with: `prefix`, or `{prefix}` (one hash slot) in a cluster.
    pub fn key_prefix(&self) -> String {
        if self.cluster && !self.prefix.contains('{') {
            format!("{{{}}}", self.prefix)
        } else {
            self.prefix.clone()
        }
    }
}

/// `[sender]`: who the messages are from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderConfig {
    /// Display name.
    pub name: String,
    /// From address.
    pub email: String,
    /// Physical postal address (CAN-SPAM); required.
    pub postal_address: String,
    /// IANA timezone for contacts that have none.
    pub timezone: String,
    /// The office phone (`{{agent.phone}}` of contacts without an agent).
    pub phone: String,
}

/// `[agents.NAME]`: an agent of the practice; contacts whose `agent` column names them (any
/// case) get email From the agent (Reply-To the agent), and templates see `{{agent.*}}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Display name.
    pub name: String,
    /// The agent's address: the From and Reply-To of their contacts' email, and where their
    /// daily agenda goes.
    pub email: String,
    /// The agent's phone.
    pub phone: String,
    /// The language of the agent's agenda email and its pages: `en` or `ar` (default: `[report]
    /// locale`).
    pub locale: String,
}

/// `[leads]`: `POST /leads`, the one entry point of new leads, and its public form.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeadsConfig {
    /// Serve `GET`/`POST /leads/form/{source}` (a public HTML form).
    pub form: bool,
    /// Leads (not posts) accepted per minute per source key: a post with more leads than the
    /// minute has left gets 429 and stores none.
    pub per_minute: u32,
    /// Leads in one post at most (more: 413, nothing stored).
    pub max_per_request: u32,
    /// Form posts accepted per minute per client IP.
    pub form_per_minute: u32,
    /// `[leads.sources.NAME]`: each source's own key.
    pub sources: std::collections::BTreeMap<String, LeadSource>,
}

impl Default for LeadsConfig {
    fn default() -> Self {
        LeadsConfig {
            form: false,
            per_minute: 120,
            max_per_request: 100,
            form_per_minute: 5,
            sources: Default::default(),
        }
    }
}

/// `[leads.sources.NAME]`: one lead source.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeadSource {
    /// The bearer key of this source (`Authorization: Bearer KEY`); it posts only this
    /// source's leads. Empty: the source takes no API posts (the form still works).
    pub key: Secret,
    /// `ar` shows this source's form right to left, in Arabic.
    pub locale: String,
}

/// `[assign]`: who gets a new lead and on which plan.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssignConfig {
    /// The rule of every source without its own.
    pub default: Option<AssignRule>,
    /// `[assign.sources.NAME]`: the rule of one source.
    pub sources: std::collections::BTreeMap<String, AssignRule>,
}

/// One assignment rule: round robin over `agents`, onto `plan`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssignRule {
    /// Agents taking turns (keys of `[agents]`).
    pub agents: Vec<String>,
    /// The plan new leads start (empty: none).
    pub plan: String,
}

/// `[smtp]`: the email transport.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// `smtp://`, `smtp+starttls://`, `smtps://` (user:pass@ allowed) or `file://DIR`.
    pub url: Secret,
    /// Connections kept open, and messages sent at once.
    pub pool_size: usize,
    /// Messages per second over all connections of this process; 0 = unlimited.
    pub rate_per_second: u32,
    /// Seconds to wait for the TCP connection, the greeting, EHLO, STARTTLS, AUTH and each
    /// command before the message data.
    pub timeout_secs: u64,
    /// Seconds to wait for the server's reply after the message data (RFC 5321 §4.5.3.2: 10
    /// minutes). Giving up earlier risks a duplicate whenever the server was only slow.
    pub data_timeout_secs: u64,
    /// Name sent in EHLO.
    pub hello_name: String,
    /// Bodies with non-ASCII text (Arabic names, "—") go as 8-bit (RFC 6152 8BITMIME) rather
    /// than quoted-printable, when every line fits; the relay must offer 8BITMIME (checked at
    /// startup). ASCII bodies go as 7-bit whenever their lines fit, whatever this says.
    pub eight_bit: bool,
}

/// `[sms]`: the SMS gateway.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// `twilio` or `file`.
    pub provider: String,
    /// API base URL (tests point it at a local server).
    pub base_url: String,
    /// Twilio account SID.
    pub account_sid: String,
    /// Twilio auth token.
    pub auth_token: Secret,
    /// Sending number, E.164.
    pub from: String,
    /// Deferral window in contact local time (used by the compliance stage).
    pub quiet_hours: String,
    /// Opt-out instruction every marketing SMS must carry.
    pub opt_out_text: String,
    /// JSON-lines outbox when `provider = "file"`.
    pub outbox: String,
    /// Marketing SMS only to contacts with an `sms_consent` value (TCPA prior express consent).
    pub require_consent: bool,
    /// `lint` warns when an SMS template renders to more parts than this.
    pub max_segments: usize,
    /// Seconds to wait for the SMS API's answer (a request sent and not answered in time is
    /// held as `unknown`, never re-sent: it may have been accepted and paid for).
    pub timeout_secs: u64,
    /// Take `POST /sms/inbound` without a provider signature (no `auth_token`): local testing
    /// only — anyone could then text STOP or START in anyone's name.
    pub allow_unsigned_inbound: bool,
}

/// `[unsubscribe]`: links and their signing key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnsubscribeConfig {
    /// Links are `{base_url}/u/{token}`.
    pub base_url: String,
    /// Key of the unsubscribe tokens; they are unforgeable and opaque without it.
    pub secret: Secret,
    /// Earlier values of `secret`, after a rotation: links made with them keep working.
    pub previous_secrets: Vec<Secret>,
    /// Optional `mailto:` address added to `List-Unsubscribe`.
    pub mailto: String,
    /// Accept a loopback, private or plain-HTTP `base_url` with real SMTP (local testing
    /// only: such a link cannot work in anyone's inbox).
    pub allow_local_base_url: bool,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address of `nurture serve`.
    pub listen: String,
    /// Public base URL of this server as the SMS provider calls it (signature checks);
    /// empty = `[unsubscribe] base_url`.
    pub public_url: String,
    /// Bearer token of the `/preview` pages; empty = `/preview` is off.
    pub preview_token: Secret,
    /// Bearer token of `POST /events` (responses and deals from a CRM or a web form); empty = off.
    pub events_token: Secret,
    /// Bearer token of `/metrics`; empty = open (bind `listen` to a private address then).
    pub metrics_token: Secret,
    /// Seconds a client has to send a request's headers (slow-loris connections are closed).
    pub header_timeout_secs: u64,
    /// Seconds a request may take from its headers to its answer (408 after).
    pub request_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request body taken (413 above, refused from its `Content-Length` before reading).
    pub max_body_bytes: usize,
    /// Seconds a graceful shutdown waits for open connections before closing them.
    pub shutdown_secs: u64,
    /// Behind a reverse proxy: the header it puts the client's address in (`X-Forwarded-For`,
    /// `X-Real-IP`, ...); its last address is the client's, for per-IP limits. Empty = the
    /// address of the connection (a proxy would then look like one client).
    pub client_ip_header: String,
}

/// `[schedule]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// 6-field cron expression for `serve`'s nightly run.
    pub cron: String,
}

/// `[delivery]`: retries, leases and the catch-up window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Attempts per message before it becomes a dead letter (transient errors only); 0 = no
    /// cap, only `retry_window_hours` decides.
    pub max_attempts: u32,
    /// A message whose transient failures go on this long after its first one becomes a dead
    /// letter (default 72 h: the grace window).
    pub retry_window_hours: u64,
    /// Days a delivery's ledger mark is kept after its occurrence date (the never-twice
    /// record); must exceed the grace window plus the retry window. Runs for dates older than
    /// the horizon are refused.
    pub retention_days: u32,
    /// Hours a finished queue job (payload, metadata) is kept for inspection before the
    /// nightly clean-up removes it; 0 (the default) removes it the moment it is done. The
    /// ledger, not the job, is what keeps a message from being sent twice.
    pub keep_done_hours: u64,
    /// Consecutive refusals by the relay or SMS provider (sender, content, auth, policy) that
    /// stop sending on that channel: the circuit breaker.
    pub breaker_after: u32,
    /// Seconds the breaker stays open before `work` tries the channel again.
    pub breaker_cooldown_secs: u64,
    /// What happens to a message whose data was sent but whose reply was lost (timeout or
    /// reset after the data): `hold` (recorded as `unknown`, never re-sent; the operator
    /// decides with `nurture dead retry`) or `retry` (sent again after the lease: a possible
    /// duplicate rather than a possible loss).
    pub after_lost_reply: String,
    /// First retry delay in seconds; doubles each attempt (with jitter), capped at `retry_max_secs`.
    pub retry_base_secs: u64,
    /// Longest retry delay in seconds.
    pub retry_max_secs: u64,
    /// Touches due up to this many days before the run date are still sent.
    pub grace_days: u32,
    /// Worker concurrency of `run` and of `work` without `--concurrency`.
    pub concurrency: usize,
    /// Delivery lanes of `work` without `--threads`: each its own thread, Redis connection,
    /// SMTP connections and queue worker, sharing the concurrency and the pool (`cli::work`).
    /// 0: one per core ([`DeliveryConfig::lanes`]).
    pub threads: usize,
    /// Seconds a send claim in the ledger lasts if its worker dies mid-send.
    pub claim_ttl_secs: u64,
    /// `run` keeps working while a retry is due within this many seconds.
    pub drain_wait_secs: u64,
    /// Worker heartbeat in seconds; a dead worker's jobs return after 3 missed heartbeats.
    pub heartbeat_secs: u64,
    /// Messages with a send time (`at`) go out over this many seconds after it, so thousands
    /// due at 09:00 do not fall due in one second.
    pub send_spread_secs: u64,
}

/// `[contacts]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContactsConfig {
    /// ISO region for phone numbers written without a country code (e.g. `US`).
    pub default_region: String,
    /// How a numeric date whose value does not tell is read: `auto` (refused, with what to
    /// set), `us` (month first) or `eu` (day first).
    pub date_format: String,
}

/// `[dkim]`: optional DKIM signing (off while `domain` is empty).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DkimSettings {
    /// Signing domain (`d=`).
    pub domain: String,
    /// Selector (`s=`); the public key is published at `{selector}._domainkey.{domain}`.
    pub selector: String,
    /// Private key file: PKCS#1 or PKCS#8 PEM for `rsa` (2048 to 4096 bits); for `ed25519`
    /// PKCS#8 PEM or the base64 of the 32-byte key.
    pub private_key_file: PathBuf,
    /// `rsa` (default) or `ed25519`.
    pub algorithm: String,
    /// With an RSA key: a second signature, Ed25519 (RFC 8463 dual signing), under this
    /// selector...
    pub ed25519_selector: String,
    /// ...with this key (`openssl genpkey -algorithm ed25519` PEM, or the base64 of its 32
    /// bytes).
    pub ed25519_key_file: PathBuf,
}

/// `[agenda]`: the agents' daily agenda.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgendaConfig {
    /// Agent name (the contacts' `agent` column) → email address the nightly run sends that
    /// agent's agenda to; `"*"` gets the items of contacts with no (or another) agent.
    pub email_to: std::collections::BTreeMap<String, String>,
    /// The most calls an agent's day holds (0 = no limit): the first ones by priority; the
    /// rest stay open for the next days. The seeds plan 10 a day, 50 for someone starting out.
    pub max_calls_per_day: usize,
    /// Days after the agenda's date that the action links of its email (Done, Answered, No
    /// answer, Not interested) work.
    pub link_days: u32,
}

impl Default for AgendaConfig {
    fn default() -> Self {
        AgendaConfig {
            email_to: Default::default(),
            max_calls_per_day: 0,
            link_days: 14,
        }
    }
}

/// `[pipeline]`: the stages a lead moves through.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Stage names in order (lower case); `new` first. A response moves `new` to `contacted`,
    /// a deal moves to `client`, `lost` needs a reason — when those stages are listed.
    pub stages: Vec<String>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            stages: ["new", "contacted", "interested", "proposal", "signed", "client", "lost"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }
}

/// `[report]`: how the practice's numbers are computed.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// The ABC shares of all customer value in percent: A, B, C (they add up to 100).
    pub abc: [f64; 3],
    /// Years of a customer relationship in CLV (default 5).
    pub relationship_years: f64,
    /// Days the report facts are kept (default 800).
    pub keep_days: u32,
    /// `ar` lays out `report --html` right to left, with Arabic labels.
    pub locale: String,
    /// The currency of deal values and costs (ISO 4217: `USD`, `EUR`, `SAR`, ...), as the
    /// report shows them; empty: the currency of `[sender] timezone`'s country
    /// ([`Config::report_currency`]).
    pub currency: String,
    /// Contacts sent at least this many touches with no response by the period's end are the
    /// report's non-responders.
    pub non_responder_touches: u32,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            abc: [75.0, 20.0, 5.0],
            relationship_years: 5.0,
            keep_days: crate::store::DEFAULT_KEEP_DAYS,
            locale: "en".into(),
            currency: String::new(),
            non_responder_touches: 4,
        }
    }
}

impl ReportConfig {
    /// True when `locale` is Arabic: the report's page and text are in Arabic, right to left.
    pub fn is_arabic(&self) -> bool {
        self.locale.to_ascii_lowercase().starts_with("ar")
    }
}

/// The currency of the country a timezone is in, for the timezones of the practices nurture
/// knows; USD otherwise.
fn currency_of_timezone(tz: &str) -> &'static str {
    const EURO: [&str; 18] = [
        "Berlin",
        "Paris",
        "Madrid",
        "Rome",
        "Amsterdam",
        "Brussels",
        "Vienna",
        "Dublin",
        "Lisbon",
        "Helsinki",
        "Athens",
        "Luxembourg",
        "Bratislava",
        "Ljubljana",
        "Tallinn",
        "Riga",
        "Vilnius",
        "Zagreb",
    ];
    let (region, city) = tz.split_once('/').unwrap_or((tz, ""));
    match (region, city) {
        ("Europe", c) if EURO.contains(&c) => "EUR",
        ("Europe", "London") => "GBP",
        ("Europe", "Zurich") => "CHF",
        ("America", "Toronto" | "Vancouver" | "Edmonton" | "Winnipeg" | "Halifax" | "Regina" | "St_Johns") => "CAD",
        ("America", "Mexico_City" | "Monterrey" | "Tijuana" | "Cancun") => "MXN",
        ("America", "Sao_Paulo") => "BRL",
        ("Asia", "Riyadh") => "SAR",
        ("Asia", "Dubai") => "AED",
        ("Asia", "Kuwait") => "KWD",
        ("Asia", "Qatar") => "QAR",
        ("Asia", "Bahrain") => "BHD",
        ("Asia", "Amman") => "JOD",
        ("Asia", "Beirut") => "LBP",
        ("Asia", "Muscat") => "OMR",
        ("Africa", "Cairo") => "EGP",
        ("Africa", "Casablanca") => "MAD",
        ("Asia", "Tokyo") => "JPY",
        ("Australia", _) => "AUD",
        ("Pacific", "Auckland") => "NZD",
        _ => "USD",
    }
}

/// `[privacy]`: erasure.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// Secret pepper of the hashes kept of forgotten addresses. Required once email or SMS
    /// leaves the machine; its own secret, so rotating `[unsubscribe] secret` changes nothing.
    pub pepper: Secret,
}

/// `[paths]`: where plans and templates are read from (relative to the config file).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PathsConfig {
    /// Plan files.
    pub jobs: PathBuf,
    /// Template files.
    pub templates: PathBuf,
    /// `serve` and `work` look for edited plans and templates this often (seconds; 0 = never).
    pub reload_secs: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: Secret::new("redis://127.0.0.1:6379/0"),
            prefix: "nurture".into(),
            ca_file: String::new(),
            sentinel: Vec::new(),
            master: String::new(),
            wait_replicas: None,
            wait_ms: 1000,
            cluster: false,
        }
    }
}
impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            name: "Sara Haddad".into(),
            email: "sara@example.com".into(),
            postal_address: "12 Main St, Springfield, IL 62701".into(),
            timezone: "America/Chicago".into(),
            phone: String::new(),
        }
    }
}
impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            url: Secret::new("file://outbox"),
            pool_size: 16,
            rate_per_second: 0,
            timeout_secs: 30,
            data_timeout_secs: 600,
            hello_name: "localhost".into(),
            eight_bit: true,
        }
    }
}
impl Default for SmsConfig {
    fn default() -> Self {
        SmsConfig {
            provider: "file".into(),
            base_url: "https://api.twilio.com".into(),
            account_sid: String::new(),
            auth_token: Secret::default(),
            from: String::new(),
            quiet_hours: "21:00-08:00".into(),
            opt_out_text: "Reply STOP to opt out".into(),
            outbox: "outbox/sms.jsonl".into(),
            require_consent: true,
            max_segments: 3,
            timeout_secs: 30,
            allow_unsigned_inbound: false,
        }
    }
}
impl Default for UnsubscribeConfig {
    fn default() -> Self {
        UnsubscribeConfig {
            base_url: "http://127.0.0.1:8080".into(),
            secret: Secret::default(),
            previous_secrets: Vec::new(),
            mailto: String::new(),
            allow_local_base_url: false,
        }
    }
}
impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:8080".into(),
            public_url: String::new(),
            preview_token: Secret::default(),
            events_token: Secret::default(),
            metrics_token: Secret::default(),
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 768,
            max_body_bytes: 64 * 1024,
            shutdown_secs: 10,
            client_ip_header: String::new(),
        }
    }
}
impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            cron: "0 0 2 * * *".into(),
        }
    }
}
impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: 0,
            retry_window_hours: 72,
            retention_days: 35,
            keep_done_hours: 0,
            breaker_after: 3,
            breaker_cooldown_secs: 300,
            after_lost_reply: "retry".into(),
            retry_base_secs: 30,
            retry_max_secs: 3600,
            grace_days: 3,
            concurrency: 32,
            threads: 0,
            claim_ttl_secs: 60,
            drain_wait_secs: 60,
            heartbeat_secs: 5,
            send_spread_secs: 600,
        }
    }
}
impl DeliveryConfig {
    /// Days a queue idempotency key lives: `grace_days + 4`, at least 7 — longer than a touch
    /// can be queued again.
    pub fn idempotency_days(&self) -> u64 {
        (u64::from(self.grace_days) + 4).max(7)
    }

    /// The delivery lanes `work` runs: `requested` (`--threads`), else `threads`; 0 means one
    /// per core, but no more lanes than SMTP connections (`pool_size`) or jobs at once
    /// (`concurrency`), so every lane has at least one of each to work with.
    pub fn lanes(&self, requested: Option<usize>, concurrency: usize, pool_size: usize) -> usize {
        match requested.unwrap_or(self.threads) {
            0 => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(concurrency)
                .min(pool_size)
                .max(1),
            n => n,
        }
    }
}
impl Default for ContactsConfig {
    fn default() -> Self {
        ContactsConfig {
            default_region: "US".into(),
            date_format: "auto".into(),
        }
    }
}
impl Default for PathsConfig {
    fn default() -> Self {
        PathsConfig {
            jobs: "jobs".into(),
            templates: "templates".into(),
            reload_secs: 2,
        }
    }
}
impl Default for Config {
    fn default() -> Self {
        Config {
            redis: RedisConfig::default(),
            sender: SenderConfig::default(),
            smtp: SmtpConfig::default(),
            sms: SmsConfig::default(),
            unsubscribe: UnsubscribeConfig::default(),
            server: ServerConfig::default(),
            schedule: ScheduleConfig::default(),
            delivery: DeliveryConfig::default(),
            contacts: ContactsConfig::default(),
            paths: PathsConfig::default(),
            privacy: PrivacyConfig::default(),
            pipeline: PipelineConfig::default(),
            report: ReportConfig::default(),
            agents: Default::default(),
            leads: Default::default(),
            assign: Default::default(),
            inbound: InboundConfig::default(),
            webhooks: Vec::new(),
            dkim: DkimSettings::default(),
            agenda: AgendaConfig::default(),
            base_dir: PathBuf::from("."),
            source: "(embedded defaults)".into(),
        }
    }
}

/// The HMAC key used when none is configured and mail only goes to the outbox.
pub const DEMO_SECRET: &str = "nurture-demo-secret-change-me";

/// The erasure pepper used when none is configured and nothing leaves the machine (the demo).
pub const DEMO_PEPPER: &str = "nurture-demo-pepper-change-me";

impl Config {
    /// Loads `path` if it exists (else the embedded defaults) and applies `NURTURE_*` overrides from `env`.
    pub fn load(path: &Path, explicit: bool, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => None,
            Err(source) => return Err(ConfigError::Read { path: shown, source }),
        };
        let overrides: Vec<&(String, String)> = env.iter().filter(|(k, _)| is_override(k)).collect();
        let mut config: Config = if overrides.is_empty() {
            match &text {
                Some(t) => toml::from_str(t).map_err(|e| invalid(&shown, e))?,
                None => Config::default(),
            }
        } else {
            let mut table: toml::Table = match &text {
                Some(t) => toml::from_str(t).map_err(|e| invalid(&shown, e))?,
                None => toml::Table::new(),
            };
            for (name, value) in &overrides {
                apply_override(&mut table, name, value)?;
            }
            let names: Vec<String> = overrides.iter().map(|(k, _)| describe_override(k)).collect();
            table.try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: format!("{shown} (with {})", names.join(", ")),
                line: 0,
                col: 0,
                message: e.message().to_string(),
            })?
        };
        config.base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() && text.is_some() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        config.source = if text.is_some() {
            shown.clone()
        } else {
            "(embedded defaults)".into()
        };
        config.validate(&shown, text.as_deref())?;
        Ok(config)
    }

    /// Checks values; an error names `[section] key` and, when the file sets it, its line.
    fn validate(&self, path: &str, text: Option<&str>) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let fail = |message: String| {
            let (line, col) = text.map_or((0, 0), |t| key_position(t, &message));
            ConfigError::Invalid {
                path: path.to_string(),
                line,
                col,
                message,
            }
        };
        if self.sender.postal_address.trim().is_empty() {
            problems.push(fail("[sender] postal_address: required (CAN-SPAM)".into()));
        }
        if self.sender.email.parse::<lettre::Address>().is_err() {
            problems.push(fail(format!("[sender] email: not an email address: {:?}", self.sender.email)));
        }
        if self.sender.timezone.parse::<chrono_tz::Tz>().is_err() {
            problems.push(fail(format!("[sender] timezone: unknown timezone {:?}", self.sender.timezone)));
        }
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(char::is_whitespace) {
            problems.push(fail("[redis] prefix: must be non-empty and contain no spaces".into()));
        }
        if !matches!(self.sms.provider.as_str(), "twilio" | "file") {
            problems.push(fail(format!(
                "[sms] provider: expected \"twilio\" or \"file\", got {:?}",
                self.sms.provider
            )));
        }
        if self.sms.provider == "twilio" && (self.sms.account_sid.is_empty() || self.sms.from.is_empty()) {
            problems.push(fail("[sms] account_sid and from: required when provider = \"twilio\"".into()));
        }
        if let Err(e) = crate::compliance::sms::QuietHours::parse(&self.sms.quiet_hours) {
            problems.push(fail(format!("[sms] quiet_hours: {e}")));
        }
        if let Err(e) = self.schedule.cron.parse::<cron::Schedule>() {
            problems.push(fail(format!(
                "[schedule] cron: {:?} is not a 6-field cron expression (sec min hour day month weekday): {e}",
                self.schedule.cron
            )));
        }
        if self.smtp.pool_size == 0 || self.delivery.concurrency == 0 {
            problems.push(fail("[smtp] pool_size and [delivery] concurrency: must be at least 1".into()));
        }
        for (agent, address) in &self.agenda.email_to {
            if address.parse::<lettre::Address>().is_err() {
                problems.push(fail(format!("[agenda] email_to: {agent:?} = {address:?} is not an email address")));
            }
        }
        if let Err(e) = crate::contacts::dates::DayOrder::parse(&self.contacts.date_format) {
            problems.push(fail(format!("[contacts] date_format: {e}")));
        }
        if !matches!(self.delivery.after_lost_reply.as_str(), "hold" | "retry") {
            problems.push(fail(format!(
                "[delivery] after_lost_reply: {:?} is neither \"hold\" nor \"retry\"",
                self.delivery.after_lost_reply
            )));
        }
        let needed = self.delivery.grace_days as u64 + self.delivery.retry_window_hours.div_ceil(24) + 2;
        if u64::from(self.delivery.retention_days) < needed {
            problems.push(fail(format!(
                "[delivery] retention_days: must be at least grace_days + retry_window_hours/24 + 2 = {needed}"
            )));
        }
        if self.delivery.breaker_after == 0 {
            problems.push(fail("[delivery] breaker_after: must be at least 1".into()));
        }
        if self.unsubscribe.secret.is_empty() && !self.smtp.url.expose().starts_with("file://") {
            problems.push(fail(
                "[unsubscribe] secret: required when email leaves the machine (set NURTURE_UNSUBSCRIBE_SECRET)".into(),
            ));
        }
        let stages = &self.pipeline.stages;
        if stages.first().map(String::as_str) != Some("new")
            || stages
                .iter()
                .any(|s| s.is_empty() || *s != s.to_lowercase() || s.contains(char::is_whitespace))
            || (1..stages.len()).any(|i| stages[..i].contains(&stages[i]))
        {
            problems.push(fail(format!(
                "[pipeline] stages: {stages:?}: distinct lower-case names without spaces, `new` first"
            )));
        }
        for (key, agent) in &self.agents {
            if agent.name.trim().is_empty() || agent.email.parse::<lettre::Address>().is_err() {
                problems.push(fail(format!(
                    "[agents.{key}]: needs a name and an email address (got {:?}, {:?})",
                    agent.name, agent.email
                )));
            }
        }
        let rules = self.assign.default.iter().map(|r| ("default".to_string(), r));
        for (name, rule) in rules.chain(self.assign.sources.iter().map(|(n, r)| (format!("sources.{n}"), r))) {
            if rule.agents.is_empty() {
                problems.push(fail(format!(
                    "[assign] {name}: list the agents who take turns (agents = [\"sara\"])"
                )));
            }
            if let Some(unknown) = rule.agents.iter().find(|a| self.agent_key(a).is_none()) {
                problems.push(fail(format!(
                    "[assign] {name}: agent {unknown:?} has no [agents.{unknown}] table (name, email, phone); add it or fix the name"
                )));
            }
        }
        let header = &self.server.client_ip_header;
        if !header.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            problems.push(fail(format!(
                "[server] client_ip_header: {header:?} is not a header name (e.g. \"X-Forwarded-For\")"
            )));
        }
        let abc = self.report.abc;
        if abc.iter().any(|s| !s.is_finite() || *s <= 0.0) || (abc.iter().sum::<f64>() - 100.0).abs() > 1e-6 {
            problems.push(fail(format!("[report] abc: {abc:?}: three shares above 0 that add up to 100")));
        }
        for problem in self.inbound.problems().into_iter().chain(webhooks::problems(&self.webhooks)) {
            problems.push(fail(problem));
        }
        if self.privacy.pepper.is_empty() && self.sends_for_real() {
            problems.push(fail(
                "[privacy] pepper: required when email or SMS leaves the machine (set NURTURE_PRIVACY_PEPPER to a long random \
                 secret; an install that ran before 0.6 sets it to its current [unsubscribe] secret, which was the pepper until then)"
                    .into(),
            ));
        }
        // The workspace check stops sending for this one (commands such as `import` or `forget`
        // still work); it is told here too when the configuration fails anyway, so that a first
        // setup learns every problem in one try.
        if !problems.is_empty()
            && !self.smtp.url.expose().starts_with("file://")
            && !self.unsubscribe.allow_local_base_url
            && let Some(problem) = crate::compliance::token::unreachable_base(&self.unsubscribe.base_url)
        {
            problems.push(fail(format!(
                "[unsubscribe] base_url: {problem}; recipients could not unsubscribe — set the public HTTPS address of \
                 `nurture serve` (for local tests with a real SMTP server: [unsubscribe] allow_local_base_url = true)"
            )));
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }

    /// The agent a contact's `agent` value names (any case), if configured.
    pub fn agent(&self, name: Option<&str>) -> Option<&AgentConfig> {
        let name = name?.trim();
        self.agents.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, a)| a)
    }

    /// The `[agents.KEY]` key `name` means, in any case (`Omar` → `omar`).
    pub fn agent_key(&self, name: &str) -> Option<&str> {
        let name = name.trim();
        self.agents.keys().find(|k| k.eq_ignore_ascii_case(name)).map(String::as_str)
    }

    /// True when email goes to a real SMTP server or SMS to a real provider (not to files).
    pub fn sends_for_real(&self) -> bool {
        !self.smtp.url.expose().starts_with("file://") || self.sms.provider != "file"
    }

    /// The report's currency: `[report] currency`, else the currency of the country of `[sender]
    /// timezone` (`Europe/Berlin` → EUR, `Asia/Riyadh` → SAR), else USD.
    pub fn report_currency(&self) -> String {
        let set = self.report.currency.trim();
        if !set.is_empty() {
            return set.to_ascii_uppercase();
        }
        currency_of_timezone(&self.sender.timezone).to_string()
    }

    /// The keys an unsubscribe token may be made with: the current one first, then
    /// `previous_secrets`.
    pub fn unsubscribe_secrets(&self) -> Vec<&str> {
        let mut all = vec![self.unsubscribe_secret()];
        all.extend(
            self.unsubscribe
                .previous_secrets
                .iter()
                .map(Secret::expose)
                .filter(|s| !s.is_empty()),
        );
        all
    }

    /// The unsubscribe HMAC key (the demo key when none is set and mail only goes to files).
    pub fn unsubscribe_secret(&self) -> &str {
        if self.unsubscribe.secret.is_empty() {
            DEMO_SECRET
        } else {
            self.unsubscribe.secret.expose()
        }
    }

    /// `[sender] timezone` (validated on load): the run date's timezone, and that of contacts
    /// without one.
    pub fn sender_tz(&self) -> chrono_tz::Tz {
        self.sender.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// The pepper of erasure hashes.
    pub fn pepper(&self) -> &str {
        if self.privacy.pepper.is_empty() {
            DEMO_PEPPER
        } else {
            self.privacy.pepper.expose()
        }
    }

    /// The URL the SMS provider posts inbound messages to (signed by the provider).
    pub fn sms_inbound_url(&self) -> String {
        let base = if self.server.public_url.is_empty() {
            &self.unsubscribe.base_url
        } else {
            &self.server.public_url
        };
        format!("{}/sms/inbound", base.trim_end_matches('/'))
    }

    /// Where Redis is (`[redis]`; reads `ca_file`).
    pub fn redis_target(&self) -> Result<crate::store::RedisTarget, String> {
        let ca = (!self.redis.ca_file.is_empty()).then(|| self.resolve(Path::new(&self.redis.ca_file)));
        crate::store::RedisTarget::from_config(&self.redis, ca.as_deref())
    }

    /// `p` relative to the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() || self.base_dir == Path::new(".") {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

fn invalid(path: &str, e: toml::de::Error) -> ConfigError {
    let (line, col) = match (e.span(), std::fs::read_to_string(path)) {
        (Some(span), Ok(text)) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            (line, before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1)
        }
        _ => (0, 0),
    };
    ConfigError::Invalid {
        path: path.to_string(),
        line,
        col,
        message: e.message().trim().to_string(),
    }
}

/// Where the file sets the key a message starts with (`[sender] postal_address: ...`): the
/// line and the column of its value; `(0, 0)` when the file does not set it.
fn key_position(text: &str, message: &str) -> (usize, usize) {
    let Some((section, rest)) = message.strip_prefix('[').and_then(|m| m.split_once("] ")) else {
        return (0, 0);
    };
    let key: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
        } else if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim() == key
        {
            let col = line
                .find('=')
                .map_or(1, |b| line[b + 1..].len() - line[b + 1..].trim_start().len() + b + 2);
            return (i + 1, col);
        }
    }
    (0, 0)
}

/// Sections of `nurture.toml`; `NURTURE_<SECTION>_<KEY>` variables for other names (such as
/// `NURTURE_LOG` or `NURTURE_CONFIG`) are not configuration overrides.
const SECTIONS: &[&str] = &[
    "redis",
    "privacy",
    "dkim",
    "sender",
    "smtp",
    "sms",
    "unsubscribe",
    "server",
    "schedule",
    "delivery",
    "contacts",
    "paths",
    "agenda",
    "inbound",
    "leads",
    "pipeline",
    "report",
];

/// `NURTURE_*` variables that are not settings, by name: read by the binary, the tests and the
/// benchmark scripts.
const NOT_SETTINGS: &[&str] = &[
    "NURTURE_LOG",
    "NURTURE_CONFIG",
    "NURTURE_BIN",
    "NURTURE_TEST_REDIS_URL",
    "NURTURE_TEST_ISOLATED",
];

/// A warning for each `NURTURE_*` variable of `env` that is neither a setting nor one of
/// [`NOT_SETTINGS`] — a misspelt section is otherwise silently ignored (`NURTURE_SMPT_URL`
/// would leave email going to files) — naming the closest section.
pub fn unknown_variables(env: &[(String, String)]) -> Vec<String> {
    env.iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.starts_with("NURTURE_") && !is_override(k) && !NOT_SETTINGS.contains(k))
        .map(|k| {
            let rest = &k["NURTURE_".len()..];
            let (section, key) = rest.split_once('_').unwrap_or((rest, ""));
            let close = SECTIONS
                .iter()
                .map(|s| (strsim::jaro_winkler(&section.to_ascii_lowercase(), s), *s))
                .filter(|(score, _)| *score >= 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, s)| format!("; did you mean NURTURE_{}_{key}?", s.to_ascii_uppercase()))
                .unwrap_or_default();
            format!(
                "warning: {k} is not a setting (nurture.toml has no [{}] section); it is ignored{close}",
                section.to_ascii_lowercase()
            )
        })
        .collect()
}

/// `NURTURE_SMTP_POOL_SIZE` → `NURTURE_SMTP_POOL_SIZE = [smtp] pool_size`.
fn describe_override(name: &str) -> String {
    match name.strip_prefix("NURTURE_").and_then(|r| r.split_once('_')) {
        Some((section, key)) => format!("{name} = [{}] {}", section.to_ascii_lowercase(), key.to_ascii_lowercase()),
        None => name.to_string(),
    }
}

fn is_override(name: &str) -> bool {
    name.strip_prefix("NURTURE_")
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(section, _)| SECTIONS.contains(&section.to_ascii_lowercase().as_str()))
}

/// `NURTURE_SMTP_POOL_SIZE=8` → `[smtp] pool_size = 8` (integers, decimals and booleans keep
/// their type); `NURTURE_INBOUND_MAILGUN_SIGNING_KEY` → `[inbound.mailgun] signing_key`.
fn apply_override(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: name.to_string(),
        line: 0,
        col: 0,
        message,
    };
    let rest = name.trim_start_matches("NURTURE_").to_ascii_lowercase();
    let Some((section, key)) = rest.split_once('_') else {
        return Err(invalid("expected NURTURE_<SECTION>_<KEY>".into()));
    };
    let parsed = if key == "previous_secrets" {
        // A list of secrets: comma-separated in one variable.
        toml::Value::Array(value.split(',').map(|v| toml::Value::String(v.trim().to_string())).collect())
    } else if let Ok(i) = value.parse::<i64>() {
        toml::Value::Integer(i)
    } else if let Ok(f) = value.parse::<f64>()
        && f.is_finite()
    {
        toml::Value::Float(f)
    } else if let Ok(b) = value.parse::<bool>() {
        toml::Value::Boolean(b)
    } else {
        toml::Value::String(value.to_string())
    };
    let nested = ["mailgun", "sendgrid", "ses", "postmark"]
        .into_iter()
        .filter(|_| section == "inbound")
        .find_map(|sub| key.strip_prefix(sub).and_then(|k| k.strip_prefix('_')).map(|k| (sub, k)));
    let (path, key): (Vec<&str>, &str) = match nested {
        Some((sub, k)) => (vec![section, sub], k),
        None => (vec![section], key),
    };
    let mut at = table;
    for part in &path {
        let entry = at.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(invalid(format!("[{}] is not a table", path.join(".")))),
        };
    }
    at.insert(key.to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_keys_and_keeps_types() {
        let env = vec![
            ("NURTURE_REDIS_PREFIX".to_string(), "t1".to_string()),
            ("NURTURE_SMTP_POOL_SIZE".to_string(), "4".to_string()),
        ];
        let c = Config::load(Path::new("/nonexistent/nurture.toml"), false, &env).unwrap();
        assert_eq!(c.redis.prefix, "t1");
        assert_eq!(c.smtp.pool_size, 4);
    }

    #[test]
    fn env_overrides_reach_nested_tables_and_decimals() {
        let env = vec![
            ("NURTURE_INBOUND_MAILGUN_SIGNING_KEY".to_string(), "mg".to_string()),
            ("NURTURE_INBOUND_SES_TOPIC_ARN".to_string(), "arn:aws:sns:x".to_string()),
            ("NURTURE_INBOUND_COMPLAINT_LIMIT".to_string(), "0.5".to_string()),
        ];
        let c = Config::load(Path::new("/nonexistent/nurture.toml"), false, &env).unwrap();
        assert_eq!(c.inbound.mailgun.signing_key.expose(), "mg");
        assert_eq!(c.inbound.ses.topic_arn, "arn:aws:sns:x");
        assert_eq!(c.inbound.complaint_limit, 0.5);
    }

    #[test]
    fn unknown_key_is_named() {
        let env = vec![("NURTURE_SMTP_POOLSIZE".to_string(), "4".to_string())];
        let e = Config::load(Path::new("/nonexistent/nurture.toml"), false, &env).unwrap_err();
        assert!(e.to_string().contains("poolsize"), "{e}");
    }

    #[test]
    fn errors_point_at_the_line_of_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nurture.toml");
        std::fs::write(&path, "[sender]\nname = \"A\"\ntimezone = \"Mars/Olympus\"\n").unwrap();
        let e = Config::load(&path, true, &[]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with(":3:12: [sender] timezone: unknown timezone \"Mars/Olympus\""),
            "{e}"
        );
        std::fs::write(&path, "[smtp]\npool_size = \"x\"\n").unwrap();
        let e = Config::load(&path, true, &[]).unwrap_err();
        assert!(e.to_string().contains("nurture.toml:2:13: "), "{e}");
    }

    #[test]
    fn the_report_currency_follows_the_senders_country_unless_set() {
        let mut c = Config::default();
        assert_eq!(c.report_currency(), "USD", "America/Chicago");
        for (tz, currency) in [
            ("Europe/Berlin", "EUR"),
            ("Asia/Riyadh", "SAR"),
            ("Europe/London", "GBP"),
            ("America/Toronto", "CAD"),
            ("Antarctica/Troll", "USD"),
        ] {
            c.sender.timezone = tz.into();
            assert_eq!(c.report_currency(), currency, "{tz}");
        }
        c.report.currency = "eur".into();
        assert_eq!(c.report_currency(), "EUR");
    }

    #[test]
    fn secrets_are_redacted() {
        let mut c = Config::default();
        c.unsubscribe.secret = Secret::new("hunter2");
        c.smtp.url = Secret::new("smtp://u:hunter2@x");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!serde_json::to_string(&c).unwrap().contains("hunter2"));
    }

    #[test]
    fn secret_required_for_real_smtp() {
        let env = vec![("NURTURE_SMTP_URL".to_string(), "smtp://127.0.0.1:25".to_string())];
        let e = Config::load(Path::new("/nonexistent/nurture.toml"), false, &env).unwrap_err();
        assert!(e.to_string().contains("[unsubscribe] secret"), "{e}");
    }

    #[test]
    fn pepper_required_for_real_senders_and_independent_of_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nurture.toml");
        std::fs::write(
            &path,
            "[smtp]\nurl = \"smtp://127.0.0.1:25\"\n[unsubscribe]\nsecret = \"s1\"\nbase_url = \"https://n.example.com\"\n",
        )
        .unwrap();
        let e = Config::load(&path, true, &[]).unwrap_err();
        assert!(e.to_string().contains("[privacy] pepper: required"), "{e}");
        let env = |secret: &str| {
            vec![
                ("NURTURE_PRIVACY_PEPPER".to_string(), "p".to_string()),
                ("NURTURE_UNSUBSCRIBE_SECRET".to_string(), secret.to_string()),
            ]
        };
        let a = Config::load(&path, true, &env("s1")).unwrap();
        let b = Config::load(&path, true, &env("s2")).unwrap();
        assert_eq!(a.pepper(), "p");
        assert_eq!(a.pepper(), b.pepper(), "rotating the unsubscribe secret keeps the pepper");
        let demo = Config::default();
        assert_ne!(demo.pepper(), demo.unsubscribe_secret());
        let mut rotated = env("s2");
        rotated.push(("NURTURE_UNSUBSCRIBE_PREVIOUS_SECRETS".into(), "s1, s0".into()));
        let c = Config::load(&path, true, &rotated).unwrap();
        assert_eq!(c.unsubscribe_secrets(), ["s2", "s1", "s0"]);
    }

    #[test]
    fn work_runs_one_lane_per_core_unless_told_but_never_more_than_it_can_feed() {
        let cores = std::thread::available_parallelism().unwrap().get();
        let d = DeliveryConfig::default();
        assert_eq!(d.threads, 0);
        assert_eq!(d.lanes(None, 32, 16), cores.min(16));
        assert_eq!(d.lanes(Some(0), 32, 16), cores.min(16));
        assert_eq!(d.lanes(None, 1, 16), 1, "one job at a time needs one lane");
        assert_eq!(d.lanes(None, 32, 1), 1, "one SMTP connection needs one lane");
        assert_eq!(d.lanes(Some(3), 32, 16), 3);
        let configured = DeliveryConfig { threads: 2, ..d };
        assert_eq!(configured.lanes(None, 32, 16), 2);
        assert_eq!(configured.lanes(Some(5), 32, 16), 5, "--threads wins");
    }
}
