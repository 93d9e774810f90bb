//! `nurture init [DIR]`: a workspace to start from — `nurture.toml` with generated secrets and
//! a Redis prefix of its own (so the demo's data never mixes with yours), the shipped plans
//! (`jobs/`), templates (`templates/`) and deployment files (`deploy/`) — and the commands to
//! take next. Writes over nothing.

use clap::Args;
use include_dir::{Dir, include_dir};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

static JOBS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/jobs");
static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");
static DEPLOY: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/deploy");
/// The shipped `nurture.toml`: the demo's, with the defaults spelled out.
const SHIPPED_CONFIG: &str = include_str!("../../nurture.toml");

/// `init` flags.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder of the new workspace (created if missing; default: the current one).
    pub dir: Option<PathBuf>,
}

pub(super) fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = a.dir.unwrap_or_else(|| PathBuf::from("."));
    let config_path = dir.join("nurture.toml");
    if config_path.exists() {
        anyhow::bail!(
            "{}: exists; nothing was written — `nurture init` makes a new workspace: name a new folder (`nurture init my-practice`)",
            config_path.display()
        );
    }
    std::fs::create_dir_all(&dir).map_err(|e| anyhow::anyhow!("{}: cannot create it ({e})", dir.display()))?;
    let prefix = prefix_for(&dir);
    let text = workspace_config(&prefix, &random_hex()?, &random_hex()?);
    crate::private_file::write(&config_path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("{}: cannot write ({e})", config_path.display()))?;
    let mut kept = 0;
    for (root, name) in [(&JOBS, "jobs"), (&TEMPLATES, "templates"), (&DEPLOY, "deploy")] {
        kept += write_tree(root, &dir.join(name))?;
    }
    let shown = dir.display().to_string();
    outln!(
        "wrote {shown}/nurture.toml (Redis prefix \"{prefix}\", a new [unsubscribe] secret and [privacy] pepper), {shown}/jobs/, {shown}/templates/ and {shown}/deploy/ (cron and systemd)"
    );
    let shown = if shown.contains(' ') { format!("\"{shown}\"") } else { shown };
    if kept > 0 {
        outln!("kept {kept} file(s) that were already there");
    }
    outln!(
        "next:\n  cd {shown}\n  nurture lint                          # every problem at once, with its line\n  \
         nurture import your-contacts.xlsx     # your spreadsheet as it is (xlsx, xls, ods, csv)\n  \
         nurture preview 8x8/welcome           # what people will get\n  \
         nurture run                           # tonight: mail goes to outbox/ until [smtp] url is set\n\
         then set [smtp] url, [unsubscribe] base_url (the public HTTPS address of `nurture serve`) and [sender], \
         move the secret and the pepper to NURTURE_UNSUBSCRIBE_SECRET / NURTURE_PRIVACY_PEPPER, and install deploy/nurture.cron (or the systemd units beside it)"
    );
    Ok(ExitCode::SUCCESS)
}

/// The Redis prefix of a workspace in `dir`: its folder name in lower-case letters, digits and
/// `-` (`nurture` when none is left).
fn prefix_for(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_default();
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    if cleaned.is_empty() { "nurture".into() } else { cleaned }
}

/// 32 random bytes from the operating system, as hex.
fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("no random source: {e}"))?;
    Ok(hex::encode(bytes))
}

/// The shipped configuration with `prefix` and the two secrets filled in.
fn workspace_config(prefix: &str, secret: &str, pepper: &str) -> String {
    let mut out = String::from(
        "# nurture workspace (`nurture init`). Mail goes to ./outbox until [smtp] url is set.\n\
         # Every key can be overridden by NURTURE_<SECTION>_<KEY> (e.g. NURTURE_SMTP_URL).\n",
    );
    let body = SHIPPED_CONFIG.lines().skip_while(|l| l.starts_with('#') || l.is_empty());
    for line in body {
        let line = match line {
            l if l.starts_with("prefix = ") => format!("prefix = \"{prefix}\""),
            l if l.starts_with("# secret = ") => {
                format!("secret = \"{secret}\"   # keep it secret; better in NURTURE_UNSUBSCRIBE_SECRET")
            }
            "# [privacy]" => "[privacy]".to_string(),
            l if l.starts_with("# pepper = ") => {
                format!("pepper = \"{pepper}\"   # never change it; better in NURTURE_PRIVACY_PEPPER")
            }
            l => l.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Writes the files of `root` under `to`, keeping any that exist; returns how many it kept.
fn write_tree(root: &Dir<'_>, to: &Path) -> anyhow::Result<usize> {
    let mut kept = 0;
    for file in root.files() {
        let path = to.join(file.path());
        if path.exists() {
            kept += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, file.contents()).map_err(|e| anyhow::anyhow!("{}: cannot write ({e})", path.display()))?;
    }
    for sub in root.dirs() {
        kept += write_tree(sub, to)?;
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_gets_its_prefix_and_secrets_and_stays_valid_toml() {
        let text = workspace_config("maple-oak", "s3", "p3");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["redis"]["prefix"].as_str(), Some("maple-oak"));
        assert_eq!(v["unsubscribe"]["secret"].as_str(), Some("s3"));
        assert_eq!(v["privacy"]["pepper"].as_str(), Some("p3"));
        assert_eq!(prefix_for(Path::new("/")), "nurture");
    }
}
