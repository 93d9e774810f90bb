//! The deployment files of `deploy/` as an operator installs them: the systemd units pass
//! `systemd-analyze verify` with no warning, and the cron lines run under cron's bare
//! environment (no PATH beyond /usr/bin:/bin, no HOME, the secrets from their file).

use crate::CONTACTS;
use crate::support::TestEnv;
use std::path::Path;
use std::process::Command;

fn deploy(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)).unwrap()
}

/// A unit or cron file with the install paths replaced by this test's.
fn installed(text: &str, workspace: &Path, secrets: &Path, log: &Path) -> String {
    text.replace("/usr/local/bin/nurture", env!("CARGO_BIN_EXE_nurture"))
        .replace("/srv/nurture", workspace.to_str().unwrap())
        .replace("/etc/nurture/secrets.env", secrets.to_str().unwrap())
        .replace("/var/log/nurture/nurture.log", log.to_str().unwrap())
}

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets.env");
    std::fs::write(&secrets, "").unwrap();
    let mut units = Vec::new();
    for unit in [
        "nurture.service",
        "nurture-run.service",
        "nurture-run.timer",
        "nurture-work.service",
    ] {
        let text = installed(&deploy(unit), dir.path(), &secrets, &dir.path().join("log"));
        std::fs::write(dir.path().join(unit), text).unwrap();
        units.push(unit);
    }
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze (Debian: apt-get install systemd; tests/run.sh does)");
    let said = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    let ours: Vec<&str> = said.lines().filter(|l| units.iter().any(|u| l.contains(u))).collect();
    assert!(
        ours.is_empty(),
        "systemd-analyze has something to say about our units:\n{}",
        ours.join("\n")
    );
}

#[test]
fn the_cron_lines_run_under_crons_bare_environment() {
    let env = TestEnv::new("cron");
    // Enrolled today: tonight's run (the real clock, as cron runs it) sends their welcome.
    let today = nurture::clock::Clock::System.today(chrono_tz::America::Chicago).to_string();
    env.import(CONTACTS, &["--enrolled-on", &today]);
    // The secrets live in their file, not in nurture.toml.
    let config = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
    env.write(
        "nurture.toml",
        &config
            .replace("secret = \"test-secret\"", "")
            .replace("pepper = \"test-pepper\"", ""),
    );
    let secrets = env.path().join("secrets.env");
    std::fs::write(
        &secrets,
        "NURTURE_UNSUBSCRIBE_SECRET=test-secret\nNURTURE_PRIVACY_PEPPER=test-pepper\n",
    )
    .unwrap();
    let log = env.path().join("nurture.log");
    let cron = installed(&deploy("nurture.cron"), env.path(), &secrets, &log);
    let nightly = cron.lines().find(|l| l.starts_with("15 2 ")).expect("the nightly line");
    // Fields: minute hour day month weekday user command.
    let command: String = nightly.split_whitespace().skip(6).collect::<Vec<_>>().join(" ");
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(&command)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SHELL", "/bin/sh")
        .output()
        .unwrap();
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(out.status.success(), "{written}{}", String::from_utf8_lossy(&out.stderr));
    assert!(written.contains(" due, ") && written.contains(" sent"), "{written}");
    assert_eq!(env.sink().count(), 3, "{written}");
}
