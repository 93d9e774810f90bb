//! Test support: a temp workspace with its own Redis prefix, a real `smtp-sink` process, a
//! fake Twilio API (a local Python HTTP server), and a runner for the real `nurture` binary.

#![allow(dead_code)]

pub mod browser;
pub mod dovecot;
pub mod fault;
pub mod private_redis;

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where Redis is (override with NURTURE_TEST_REDIS_URL).
pub fn redis_url() -> String {
    std::env::var("NURTURE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port_pub() -> u16 {
    free_port()
}

/// Waits until something listens on `port`.
pub fn wait_for_port_pub(port: u16) {
    wait_for_port(port)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

/// A real postfix `smtp-sink` that dumps every message to a file.
pub struct SmtpSink {
    child: Child,
    /// Port it listens on.
    pub port: u16,
    dir: PathBuf,
}

impl SmtpSink {
    /// Starts `smtp-sink` with extra options (e.g. `["-f", "RCPT"]` for 5xx on RCPT).
    pub fn start(dir: &Path, extra: &[&str]) -> SmtpSink {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let port = free_port();
        let bin = ["/usr/sbin/smtp-sink", "/usr/bin/smtp-sink"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("smtp-sink (postfix) is installed");
        let child = Command::new(bin)
            .args(["-u", "nobody", "-d", &format!("{}/m.", dir.display())])
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("256")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smtp-sink");
        wait_for_port(port);
        SmtpSink {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// The dumped messages (headers and body as received).
    pub fn messages(&self) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    /// Number of dump files so far.
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir).map(|rd| rd.count()).unwrap_or(0)
    }

    /// Waits until at least `n` messages arrived (or the timeout passes).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        while self.count() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the Python helper server `script` of this folder in `dir` (`NAME.port`, `NAME.jsonl`,
/// then `args`); returns it, its port and its log.
fn start_helper(script: &str, dir: &Path, name: &str, args: &[&str]) -> (Child, u16, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/support").join(script);
    let port_file = dir.join(format!("{name}.port"));
    let log = dir.join(format!("{name}.jsonl"));
    let child = Command::new("python3")
        .arg(script)
        .arg(&port_file)
        .arg(&log)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start python3");
    (child, read_port_file(&port_file), log)
}

/// Each line of the JSON-lines file `log` (none when it does not exist yet).
fn json_lines(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The port a helper server wrote to `port_file` once it listens (waits up to 10 s).
fn read_port_file(port_file: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !port_file.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(port_file).unwrap_or_else(|e| panic!("{}: {e}", port_file.display()));
    text.trim().parse().unwrap()
}

/// The fake Twilio Messages API.
pub struct FakeTwilio {
    child: Child,
    /// Port it listens on.
    pub port: u16,
    log: PathBuf,
}

impl FakeTwilio {
    /// Starts the server; see `fake_twilio.py` for its per-number behaviour.
    pub fn start(dir: &Path) -> FakeTwilio {
        let (child, port, log) = start_helper("fake_twilio.py", dir, "twilio", &[]);
        FakeTwilio { child, port, log }
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        json_lines(&self.log)
    }
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver (a CRM's endpoint) that verifies each signature; see
/// `webhook_receiver.py`.
pub struct WebhookReceiver {
    child: Child,
    /// Its URL.
    pub url: String,
    log: PathBuf,
}

impl WebhookReceiver {
    /// Starts it with the signing `secret`.
    pub fn start(dir: &Path, secret: &str) -> WebhookReceiver {
        let (child, port, log) = start_helper("webhook_receiver.py", dir, "webhook", &[secret]);
        WebhookReceiver {
            child,
            url: format!("http://127.0.0.1:{port}/hook"),
            log,
        }
    }

    /// Every POST received, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        json_lines(&self.log)
    }

    /// From now on every POST gets 500 (`true`), or 204 again (`false`).
    pub fn fail(&self, failing: bool) {
        let flag = PathBuf::from(format!("{}.fail", self.log.display()));
        if failing {
            std::fs::write(flag, "").unwrap();
        } else {
            let _ = std::fs::remove_file(flag);
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp workspace: shipped `jobs/` and `templates/`, a `nurture.toml` with its own prefix.
pub struct TestEnv {
    /// The folder (the binary runs with it as working directory).
    pub dir: tempfile::TempDir,
    /// The Redis prefix of this test.
    pub prefix: String,
    /// The SMTP server, if started.
    pub smtp: Option<SmtpSink>,
    /// The SMS API, if started.
    pub sms: Option<FakeTwilio>,
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let rel = entry.strip_prefix(from).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

impl TestEnv {
    /// A workspace with the shipped plans and templates, an `smtp-sink` and a fake Twilio.
    pub fn new(name: &str) -> TestEnv {
        Self::with_sink(name, &[])
    }

    /// Like [`TestEnv::new`] with extra `smtp-sink` options.
    pub fn with_sink(name: &str, sink_args: &[&str]) -> TestEnv {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        copy_dir(&root.join("jobs"), &dir.path().join("jobs"));
        copy_dir(&root.join("templates"), &dir.path().join("templates"));
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let prefix = format!("nt-{name}-{}-{nanos}", std::process::id());
        let smtp = SmtpSink::start(&dir.path().join("sink"), sink_args);
        let sms = FakeTwilio::start(dir.path());
        let env = TestEnv {
            dir,
            prefix,
            smtp: Some(smtp),
            sms: Some(sms),
        };
        env.write_config("");
        env
    }

    /// The workspace folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The SMTP sink.
    pub fn sink(&self) -> &SmtpSink {
        self.smtp.as_ref().unwrap()
    }

    /// The fake SMS API.
    pub fn twilio(&self) -> &FakeTwilio {
        self.sms.as_ref().unwrap()
    }

    /// (Re)writes `nurture.toml`; `delivery` replaces the `[delivery]` table's body.
    pub fn write_config(&self, delivery: &str) {
        let delivery = if delivery.is_empty() {
            "max_attempts = 3\nretry_base_secs = 1\nheartbeat_secs = 1\nclaim_ttl_secs = 5\ndrain_wait_secs = 10\nconcurrency = 16"
        } else {
            delivery
        };
        let text = format!(
            r#"[redis]
url = "{redis}"
prefix = "{prefix}"

[sender]
name = "Sara Haddad"
email = "sara@example.com"
postal_address = "12 Main St, Springfield, IL 62701"
timezone = "America/Chicago"

[smtp]
url = "smtp://127.0.0.1:{smtp}"
pool_size = 16

[sms]
provider = "twilio"
base_url = "http://127.0.0.1:{sms}"
account_sid = "ACtest"
auth_token = "test-token"
from = "+15005550006"

[unsubscribe]
base_url = "http://127.0.0.1:8080"
secret = "test-secret"
allow_local_base_url = true

[privacy]
pepper = "test-pepper"

[delivery]
{delivery}
"#,
            redis = redis_url(),
            prefix = self.prefix,
            smtp = self.smtp.as_ref().map(|s| s.port).unwrap_or(1),
            sms = self.sms.as_ref().map(|s| s.port).unwrap_or(1),
        );
        std::fs::write(self.path().join("nurture.toml"), text).unwrap();
    }

    /// Sends email to `out/*.eml` and SMS to `out/sms.jsonl` instead of the servers.
    pub fn use_outboxes(&self) {
        let cfg = std::fs::read_to_string(self.path().join("nurture.toml")).unwrap();
        let cfg = cfg
            .replace(&format!("url = \"smtp://127.0.0.1:{}\"", self.sink().port), "url = \"file://out\"")
            .replace("provider = \"twilio\"", "provider = \"file\"\noutbox = \"out/sms.jsonl\"");
        self.write("nurture.toml", &cfg);
    }

    /// Replaces `from` by `to` in `nurture.toml` (e.g. to add a table before `[delivery]`).
    pub fn patch_config(&self, from: &str, to: &str) {
        let path = self.path().join("nurture.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "nurture.toml has no {from:?}");
        std::fs::write(path, text.replacen(from, to, 1)).unwrap();
    }

    /// The jobs waiting in the queue for a later time, with their due times (unix seconds).
    pub fn scheduled_jobs(&self) -> Vec<(String, f64)> {
        redis::cmd("ZRANGE")
            .arg(format!("{}:jobs:scheduled", self.prefix))
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query(&mut self.redis())
            .unwrap()
    }

    /// Writes a file in the workspace.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// A command for the real binary, in the workspace.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_nurture"));
        c.args(args)
            .current_dir(self.path())
            .env_remove("NURTURE_CONFIG")
            .env("NURTURE_LOG", "nurture=warn");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("NURTURE_") && k != "NURTURE_TEST_REDIS_URL") {
            c.env_remove(k);
        }
        c
    }

    /// Runs the binary to completion.
    pub fn nurture(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run nurture")
    }

    /// Runs the binary, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.nurture(args);
        assert!(
            out.status.success(),
            "nurture {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs with `--json` and parses stdout.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Imports a CSV given as text.
    pub fn import(&self, csv: &str, extra: &[&str]) -> serde_json::Value {
        self.write("contacts.csv", csv);
        let mut args = vec!["import", "contacts.csv", "--json"];
        args.extend_from_slice(extra);
        let out = self.nurture(&args);
        assert!(
            out.status.code().is_some_and(|c| c == 0 || c == 2),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A synchronous Redis connection (for checks and cleanup).
    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(redis_url()).unwrap().get_connection().unwrap()
    }

    /// Every key of this test's prefix with all its values (strings, hashes, lists, sets,
    /// sorted sets) as one text: what an erasure test searches for traces.
    pub fn dump(&self) -> Vec<(String, String)> {
        let mut r = self.redis();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}:*", self.prefix)).query(&mut r).unwrap();
        keys.into_iter()
            .map(|key| {
                let kind: String = redis::cmd("TYPE").arg(&key).query(&mut r).unwrap();
                let mut all = |cmd: &str, extra: &[&str]| -> String {
                    let mut c = redis::cmd(cmd);
                    c.arg(&key);
                    for e in extra {
                        c.arg(*e);
                    }
                    c.query::<Vec<String>>(&mut r).unwrap().join(" ")
                };
                let dump = match kind.as_str() {
                    "string" => all("MGET", &[]),
                    "hash" => all("HGETALL", &[]),
                    "list" => all("LRANGE", &["0", "-1"]),
                    "zset" => all("ZRANGE", &["0", "-1"]),
                    "set" => all("SMEMBERS", &[]),
                    other => panic!("{key}: unexpected type {other}"),
                };
                (key, dump)
            })
            .collect()
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Ok(mut c) = redis::Client::open(redis_url()).and_then(|c| c.get_connection()) {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{}:*", self.prefix))
                .query(&mut c)
                .unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query(&mut c);
            }
        }
    }
}

/// The header value of `name` in a dumped message (first occurrence, unfolded).
pub fn header(message: &str, name: &str) -> Option<String> {
    let head = message.split("\n\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with(' ') || line.starts_with('\t') {
                v.push_str(line.trim_start());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// A running `nurture serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Server {
    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestEnv {
    /// Starts `nurture serve` on a free port (extra flags appended).
    pub fn serve(&self, extra: &[&str]) -> Server {
        self.start_server(extra, Stdio::null(), "nurture=warn")
    }

    /// Like [`TestEnv::serve`], with its info log written to `log`.
    pub fn serve_logged(&self, extra: &[&str], log: &Path) -> Server {
        self.start_server(extra, std::fs::File::create(log).unwrap().into(), "nurture=info")
    }

    fn start_server(&self, extra: &[&str], stderr: Stdio, level: &str) -> Server {
        use std::io::BufRead;
        let mut args = vec!["serve"];
        if !extra.contains(&"--listen") {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .env("NURTURE_LOG", level)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }
}

/// A response: status, raw header block, body.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header lines.
    pub headers: String,
    /// Body text.
    pub body: String,
}

/// A minimal HTTP/1.1 client (Connection: close), enough for these tests.
pub fn http(method: &str, url: &str, headers: &[(&str, &str)], body: &str) -> HttpResponse {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // Read the head, then exactly Content-Length bytes (some servers keep the socket open).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before the response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.trim().parse::<usize>().unwrap())
    });
    let mut body_bytes = raw[head_end + 4..].to_vec();
    match length {
        Some(len) => {
            while body_bytes.len() < len {
                let n = stream.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                body_bytes.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            let _ = stream.read_to_end(&mut body_bytes);
        }
    }
    let body = String::from_utf8_lossy(&body_bytes).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    HttpResponse {
        status,
        headers: head,
        body,
    }
}
