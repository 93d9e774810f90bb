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
    // Each run leaves a line that starts with its time and level (logrotate and grep by date).
    let finished = written
        .lines()
        .find(|l| l.contains("run finished"))
        .unwrap_or_else(|| panic!("{written}"));
    let stamp = finished.split_whitespace().next().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok() && finished.contains(" INFO "),
        "{finished}"
    );
    assert_eq!(env.sink().count(), 3, "{written}");
}

#[test]
fn init_writes_a_workspace_that_lints_imports_and_runs() {
    let root = tempfile::tempdir().unwrap();
    let name = format!("init-{}", std::process::id());
    let nurture = |args: &[&str], cwd: &Path| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nurture"));
        c.args(args).current_dir(cwd).env("NURTURE_LOG", "nurture=warn");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("NURTURE_")) {
            c.env_remove(k);
        }
        c.env("NURTURE_REDIS_URL", crate::support::redis_url()).output().unwrap()
    };
    let out = nurture(&["init", &name], root.path());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("nurture lint") && said.contains(&format!("prefix \"{name}\"")),
        "{said}"
    );
    let ws = root.path().join(&name);
    for f in [
        "nurture.toml",
        "jobs/8x8.toml",
        "templates/8x8/welcome.email.hbs",
        "deploy/nurture.cron",
        "deploy/nurture-run.timer",
    ] {
        assert!(ws.join(f).exists(), "{f}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.join("nurture.toml")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file holds secrets");
    let config: toml::Value = toml::from_str(&std::fs::read_to_string(ws.join("nurture.toml")).unwrap()).unwrap();
    let secret = config["unsubscribe"]["secret"].as_str().unwrap().to_string();
    let pepper = config["privacy"]["pepper"].as_str().unwrap().to_string();
    assert!(secret.len() == 64 && pepper.len() == 64 && secret != pepper, "{secret} {pepper}");
    // Another workspace gets other secrets; a second init here writes nothing.
    assert!(nurture(&["init", "other"], root.path()).status.success());
    let other: toml::Value = toml::from_str(&std::fs::read_to_string(root.path().join("other/nurture.toml")).unwrap()).unwrap();
    assert_ne!(other["unsubscribe"]["secret"].as_str(), Some(secret.as_str()));
    let again = nurture(&["init", &name], root.path());
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists; nothing was written"));
    assert!(std::fs::read_to_string(ws.join("nurture.toml")).unwrap().contains(&secret));

    // The next commands it prints work there.
    let lint = nurture(&["lint"], &ws);
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("demo/contacts.xlsx");
    let import = nurture(&["import", demo.to_str().unwrap()], &ws);
    assert!(import.status.success(), "{}", String::from_utf8_lossy(&import.stderr));
    let run = nurture(&["run"], &ws);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let emails = std::fs::read_dir(ws.join("outbox")).map(|d| d.count()).unwrap_or(0);
    assert!(emails > 0, "tonight's mail is in outbox/");
    // Clean up the prefix.
    let mut r = redis::Client::open(crate::support::redis_url()).unwrap().get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{name}:*")).query(&mut r).unwrap();
    for chunk in keys.chunks(500) {
        let _: () = redis::cmd("DEL").arg(chunk).query(&mut r).unwrap();
    }
}

#[test]
fn a_new_users_configuration_mistakes_are_told_at_once() {
    let env = TestEnv::new("firstday");
    // Real SMTP, no secret, no pepper, a local base_url: three problems, one try.
    let good = std::fs::read_to_string(env.path().join("nurture.toml")).unwrap();
    let config = good
        .replace("secret = \"test-secret\"", "")
        .replace("pepper = \"test-pepper\"", "")
        .replace("allow_local_base_url = true", "");
    env.write("nurture.toml", &config);
    let out = env.nurture(&["lint"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for expected in [
        "[unsubscribe] secret: required",
        "[privacy] pepper: required",
        "[unsubscribe] base_url:",
        "allow_local_base_url = true",
        "3 problems in the configuration",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
    // A misspelt variable is named, with the one meant; a Redis URL without its scheme too.
    env.write("nurture.toml", &good);
    let out = env
        .command(&["status"])
        .env("NURTURE_SMPT_URL", "smtp://relay:25")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NURTURE_SMPT_URL is not a setting") && err.contains("did you mean NURTURE_SMTP_URL?"),
        "{err}"
    );
    let out = env
        .command(&["status"])
        .env("NURTURE_REDIS_URL", "localhost:6379")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a URL: write redis://localhost:6379"), "{err}");
}
