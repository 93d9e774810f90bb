//! `nurture backup FILE` and `nurture restore FILE`: the archive of an installation
//! ([`crate::backup`]), written beside FILE and renamed into place when complete, and loaded
//! into an empty prefix (then anyone forgotten while it was written is forgotten again).

use super::{connect, print_json, queue};
use crate::config::Config;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `backup` and `restore` flags.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    /// The archive (`-`: standard output for `backup`, standard input for `restore`).
    pub file: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn backup(config: Config, a: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let now = crate::clock::Clock::System.now().to_rfc3339();
    let started = std::time::Instant::now();
    let summary = if a.file.as_os_str() == "-" {
        crate::backup::write(&store, &mut std::io::BufWriter::new(std::io::stdout().lock()), &now).await?
    } else {
        let mut partial = a.file.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = crate::private_file::create(&partial)
            .map_err(|e| anyhow::anyhow!("{}: cannot write ({e}): choose a folder you may write to", partial.display()))?;
        let summary = crate::backup::write(&store, &mut std::io::BufWriter::new(file), &now).await;
        let summary = match summary {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e.into());
            }
        };
        std::fs::rename(&partial, &a.file).map_err(|e| anyhow::anyhow!("{}: cannot put the archive in place ({e})", a.file.display()))?;
        summary
    };
    report(&a, "backup", &summary, started, "written to")
}

pub(super) async fn restore(config: Config, a: ArchiveArgs) -> anyhow::Result<ExitCode> {
    let store = connect(&config).await?;
    let started = std::time::Instant::now();
    let named = |e: crate::backup::BackupError| anyhow::anyhow!("{}: {e}", a.file.display());
    let mut summary = if a.file.as_os_str() == "-" {
        crate::backup::restore(&store, std::io::stdin().lock()).await.map_err(named)?
    } else {
        let file = std::fs::File::open(&a.file).map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read ({e}): give the path of an archive `nurture backup` wrote",
                a.file.display()
            )
        })?;
        crate::backup::restore(&store, std::io::BufReader::new(file)).await.map_err(named)?
    };
    let q = queue(&config, &store);
    summary.forgotten_again = crate::backup::forget_again(&store, &q, config.pepper(), &config.contacts.default_region).await?;
    report(&a, "restore", &summary, started, "loaded from")
}

fn report(a: &ArchiveArgs, what: &str, s: &crate::backup::Summary, started: std::time::Instant, verb: &str) -> anyhow::Result<ExitCode> {
    let secs = started.elapsed().as_secs_f64();
    // With `backup -` the archive is standard output: the summary goes to standard error.
    let archive_on_stdout = a.file.as_os_str() == "-" && what == "backup";
    if a.json {
        let mut v = serde_json::to_value(s)?;
        v["seconds"] = serde_json::json!((secs * 1000.0).round() / 1000.0);
        if archive_on_stdout {
            eprintln!("{v}");
        } else {
            print_json(&v)?;
        }
    } else {
        let line = format!(
            "{what}: {} keys ({} contacts, {} suppressed addresses, {} ledger entries) {verb} {} in {secs:.1} s",
            s.keys,
            s.contacts,
            s.suppressed,
            s.deliveries,
            a.file.display()
        );
        if archive_on_stdout {
            eprintln!("{line}");
        } else {
            outln!("{line}");
        }
        if s.forgotten_again > 0 {
            outln!(
                "forgotten again: {} person(s) forgotten while the backup was being written",
                s.forgotten_again
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
