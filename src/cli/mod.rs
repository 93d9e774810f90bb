//! The command line: clap types and one file per group of commands. The only place that
//! prints to stdout, and the only place that uses `anyhow` (errors are printed once).

/// `println!` for command output ([`out`]).
macro_rules! outln {
    () => {
        $crate::cli::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output ([`out`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out(format_args!($($arg)*))
    };
}

mod agenda;
mod backup;
mod dead;
mod export;
mod forget;
mod import;
mod inbound;
mod init;
mod inspect;
mod people;
mod progress;
mod reload;
mod report;
mod run;
mod send_test;
mod serve;
mod suppress;
mod table_out;
mod webhooks;
mod work;

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::contacts::census::CensusMode;
use crate::queue::Queue;
use crate::store::Store;
use crate::workspace::Workspace;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// nurture — marketing automation for agents: plans, email, SMS, agenda.
#[derive(Debug, Parser)]
#[command(name = "nurture", version, about)]
pub struct Cli {
    /// Configuration file (default: $NURTURE_CONFIG, else ./nurture.toml, else embedded defaults).
    #[arg(long, global = true, env = "NURTURE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Upsert contacts from a CSV file; report rejected rows with line numbers and reasons.
    Import(import::ImportArgs),
    /// Validate config, plans and templates (non-zero exit on errors).
    Lint(inspect::LintArgs),
    /// Render one message to stdout (headers + text + HTML, or the SMS).
    Preview(inspect::PreviewArgs),
    /// The nightly run: expand due touches, enqueue them, deliver until no job is ready.
    Run(run::RunArgs),
    /// A long-running worker (many may share one Redis).
    Work(work::WorkArgs),
    /// The agent's day: calls, cards, letters and gifts due (and `agenda done CODE`).
    Agenda(agenda::AgendaArgs),
    /// Manage the suppression list.
    Suppress(suppress::SuppressArgs),
    /// Contacts, queue depths, dead letters, suppression size, senders' health, last run.
    Status(inspect::StatusArgs),
    /// Dead letters: `dead list`, `dead retry ID...|--all`, `dead drop ID...`.
    Dead(dead::DeadArgs),
    /// HTTP server (unsubscribe, SMS webhook, health, metrics) + worker + scheduled run.
    Serve(serve::ServeArgs),
    /// Send one rendered message (subject prefixed [TEST]) to an address, outside the plans.
    SendTest(send_test::SendTestArgs),
    /// Every contact as CSV or xlsx, with suppressed_email / suppressed_sms columns.
    Export(export::ExportArgs),
    /// Erase a person: contact, queued jobs, agenda, records; keep only keyed hashes.
    Forget(forget::ForgetArgs),
    /// Record what a contact did: a response, a deal.
    Record(people::RecordArgs),
    /// Look at or move one contact: `contact show ID`, `contact move ID --plan P`.
    Contact(people::ContactArgs),
    /// The practice's numbers: `report customers` (RFM and ABC of every customer).
    Report(report::ReportArgs),
    /// Write every key that must survive to a portable archive (while the system runs).
    Backup(backup::ArchiveArgs),
    /// Load an archive of `backup` into an empty prefix.
    Restore(backup::ArchiveArgs),
    /// Returning mail: `inbound fetch` (the IMAP mailbox), `inbound read FILE...`.
    Inbound(inbound::InboundArgs),
    /// Start a workspace: `nurture.toml` with generated secrets, the plans and templates.
    Init(init::InitArgs),
    /// Outgoing webhooks: `webhooks list`, `webhooks test NAME` (a signed sample event).
    Webhooks(webhooks::WebhooksArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        // The reader of our output went away (`nurture export | head`): nothing to say.
        Err(e) if reader_gone(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        // The one command that needs no configuration: it writes one.
        Command::Init(a) => init::init(a),
        command => dispatch_configured(cli.config.as_deref(), command).await,
    }
}

async fn dispatch_configured(config_path: Option<&std::path::Path>, command: Command) -> anyhow::Result<ExitCode> {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", config_problem(&e));
            return Ok(ExitCode::FAILURE);
        }
    };
    match command {
        Command::Import(a) => import::import(config, a).await,
        Command::Lint(a) => inspect::lint(config, a).await,
        Command::Preview(a) => inspect::preview(config, a).await,
        Command::Run(a) => run::run(config, a).await,
        Command::Work(a) => work::work(config, a).await,
        Command::Agenda(a) => agenda::agenda(config, a).await,
        Command::Suppress(a) => suppress::suppress(config, a).await,
        Command::Status(a) => inspect::status(config, a).await,
        Command::Dead(a) => dead::dead(config, a).await,
        Command::Serve(a) => serve::serve(config, a).await,
        Command::Forget(a) => forget::forget(config, a).await,
        Command::Export(a) => export::export(config, a).await,
        Command::SendTest(a) => send_test::send_test(config, a).await,
        Command::Record(a) => people::record(config, a).await,
        Command::Contact(a) => people::contact(config, a).await,
        Command::Report(a) => report::report(config, a).await,
        Command::Backup(a) => backup::backup(config, a).await,
        Command::Restore(a) => backup::restore(config, a).await,
        Command::Inbound(a) => inbound::inbound(config, a).await,
        Command::Webhooks(a) => webhooks::webhooks(config, a).await,
        Command::Init(a) => init::init(a),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("NURTURE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("nurture=info,warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(colour())
        .try_init();
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    for warning in crate::config::unknown_variables(&env) {
        eprintln!("{warning}");
    }
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("nurture.toml"), false),
    };
    Config::load(&path, explicit, &env)
}

/// A configuration error as `lint` prints problems: with the line and a caret when the file
/// has the key, else one line.
fn config_problem(e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid {
            path, line, col, message, ..
        } if *line > 0 => crate::diagnostic::Diagnostic::error(path, *line, *col, message).render(),
        ConfigError::Several(all) => {
            let shown: Vec<String> = all.iter().map(config_problem).collect();
            format!(
                "{}\n{} problems in the configuration: fix them all, then run again",
                shown.join("\n\n"),
                all.len()
            )
        }
        other => format!("error: {other}"),
    }
}

/// Loads plans and templates as `lint` does — with the stored contacts when `store` is given
/// (only whether each custom column exists somewhere) — prints the problems, and fails on
/// errors: nothing is queued or sent from a workspace `lint` would refuse.
async fn load_workspace(config: Config, store: Option<&Store>) -> anyhow::Result<Workspace> {
    let ws = check_workspace(config, store, CensusMode::Presence).await?;
    for d in &ws.diagnostics {
        eprintln!("{}", d.render());
    }
    if !ws.is_ok() {
        anyhow::bail!(
            "{} error(s) in plans or templates; nothing was queued or sent (see `nurture lint`)",
            ws.errors().count()
        );
    }
    Ok(ws)
}

/// The `lint` loader: files, then what the stored contacts say about the columns the
/// templates use (`Presence`: that each custom column exists; `Count`: how many lack each).
async fn check_workspace(config: Config, store: Option<&Store>, mode: CensusMode) -> Result<Workspace, crate::store::StoreError> {
    let mut ws = Workspace::load(config);
    let census = match store {
        Some(store) => {
            let columns = match mode {
                CensusMode::Presence => ws.custom_columns(),
                CensusMode::Count => ws.needed_columns(),
            };
            Some(store.census(columns, mode).await?)
        }
        None => None,
    };
    ws.apply_census(census.as_ref());
    Ok(ws)
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    let shown = redacted_url(config.redis.url.expose());
    let target = config.redis_target().map_err(anyhow::Error::msg)?;
    if !target.is_sentinel() && !config.redis.url.expose().contains("://") {
        anyhow::bail!("[redis] url {shown:?} is not a URL: write redis://{shown} (rediss:// for TLS)");
    }
    let unreachable = |e: &dyn std::fmt::Display| {
        let e = e.to_string();
        let hint = if e.to_lowercase().contains("certificate") {
            "the server's TLS certificate is not trusted: if a private CA signed it, set [redis] ca_file to that CA's PEM file"
        } else if ["AuthenticationFailed", "WRONGPASS", "NOAUTH"].iter().any(|c| e.contains(c)) {
            "the server refused the user or password of [redis] url (`rediss://user:password@host:port/db`; \
             NURTURE_REDIS_URL overrides it): correct them"
        } else if target.is_sentinel() {
            "check [redis] sentinel and master (the Sentinels must answer and know the primary)"
        } else {
            "start Redis there (`redis-server`; for the demo `demo/run.sh` starts one), or point [redis] url / \
             NURTURE_REDIS_URL at yours"
        };
        anyhow::anyhow!("cannot reach Redis at {shown} ({e}): {hint}")
    };
    let store = Store::open(&target, &config.redis.key_prefix())
        .await
        .map_err(|e| unreachable(&e))?
        .configured(config);
    let _: String = redis::cmd("PING")
        .query_async(&mut store.conn.clone())
        .await
        .map_err(|e| unreachable(&e))?;
    // Lookups by email or phone go through the address indexes: built here, once, if an older
    // database lacks them, so that no later request ever scans the contacts.
    let indexed = store.ensure_address_indexes().await.context("building the address indexes")?;
    if indexed > 0 {
        tracing::info!(indexed, "email and phone indexes built");
    }
    Ok(store)
}

/// The queue, its schedule on the system clock (see [`Queue::with_clock`] for `--now`).
fn queue(config: &Config, store: &Store) -> Queue {
    Queue::for_config(config, store)
}

/// The clock and run date from `--date` / `--now` (dates are in the sender's timezone).
fn clock_and_date(config: &Config, date: Option<NaiveDate>, now: Option<DateTime<Utc>>) -> (Clock, NaiveDate) {
    let clock = now.map(Clock::starting_at).unwrap_or(Clock::System);
    (clock, date.unwrap_or_else(|| clock.today(config.sender_tz())))
}

/// The workspace, checked as `run` checks it, and the contact to render for: the stored
/// contact `who` names (id, email or phone), else the sample contact in `locale`.
async fn workspace_and_contact(config: Config, who: Option<&str>, locale: &str) -> anyhow::Result<(Workspace, crate::contacts::Contact)> {
    let Some(who) = who else {
        let ws = load_workspace(config, None).await?;
        let sample = ws.sample_contact_in(locale);
        return Ok((ws, sample));
    };
    let store = connect(&config).await?;
    let ws = load_workspace(config, Some(&store)).await?;
    let contact = store
        .lookup(who, &ws.config.contacts.default_region)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no contact {who:?}"))?;
    Ok((ws, contact))
}

/// Writes command output to standard output. When its reader went away (`nurture export |
/// head`) the process ends quietly with 0, as command-line tools do, instead of panicking the
/// way `println!` does.
pub(crate) fn out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {e}");
        std::process::exit(1);
    }
}

/// `true` when `e` comes from writing to a pipe whose reader closed it.
fn reader_gone(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>()
                .is_some_and(|csv| matches!(csv.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe))
    })
}

/// Prints `v` as pretty JSON. A reader that stopped reading (`| head`) is not an error: the
/// work is done by then, and a panic would only hide that.
fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Colour (ANSI codes) only on a terminal, and never with `NO_COLOR` set (no-color.org): cron
/// logs and pipes get plain text.
pub(crate) fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A connection URL with its password replaced by `***`, for messages.
pub(crate) fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an unreadable [redis] url)".into(),
    }
}
