//! Redis beyond one plain local server (issue 14): TLS with a private CA and an ACL user,
//! each against a real `redis-server` the test starts on its own port.

use crate::faults::{DELIVERY, ENROLLED, contacts, run_json};
use crate::support::TestEnv;
use crate::support::private_redis::PrivateRedis;
use std::path::Path;
use std::process::Command;

/// A private CA and a server certificate for `localhost` and 127.0.0.1 signed by it, in `dir`:
/// `ca.pem`, `server.pem`, `server.key`.
fn certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=nurture test CA",
        ]
        .iter()
        .chain(&["-keyout", "ca.key", "-out", "ca.pem"])
        .copied()
        .collect::<Vec<_>>(),
    );
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
}

/// A TLS-only redis-server whose one user is `nurture` / `s3cret` (the default user is off).
fn tls_redis(dir: &Path) -> PrivateRedis {
    certificates(dir);
    let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let (cert, key, ca) = (file("server.pem"), file("server.key"), file("ca.pem"));
    PrivateRedis::start_with(
        &dir.join("data"),
        false,
        &[
            "--tls-port",
            "{port}",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
            "--user",
            "default",
            "off",
            "--user",
            "nurture",
            "on",
            ">s3cret",
            "~*",
            "&*",
            "+@all",
        ],
    )
}

#[test]
fn nurture_runs_on_redis_over_tls_with_a_private_ca_and_an_acl_user() {
    let env = TestEnv::new("tls");
    let redis = tls_redis(&env.path().join("redis-tls"));
    env.write_config(DELIVERY);
    let url = format!("rediss://nurture:s3cret@localhost:{}/0", redis.port);
    env.patch_config(
        &format!("url = \"{}\"", crate::support::redis_url()),
        &format!("url = \"{url}\"\nca_file = \"redis-tls/ca.pem\""),
    );
    env.import(&contacts(5), &["--enrolled-on", ENROLLED]);
    let (out, summary) = run_json(&env, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary["sent"], 5, "{summary}");
    assert_eq!(env.sink().count(), 5, "the SMTP server received one message per contact");
    let status = env.ok(&["status"]);
    assert!(!status.contains("s3cret"), "the password never shows: {status}");

    // Without the CA the server's certificate is not trusted: a clear error, nothing done.
    env.patch_config("ca_file = \"redis-tls/ca.pem\"", "");
    let out = env.nurture(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("[redis] ca_file") && !stderr.contains("s3cret"), "{stderr}");

    // A wrong password names the cause and redacts the secret.
    env.patch_config(&url, &url.replace("s3cret", "wrong"));
    env.patch_config("prefix =", "ca_file = \"redis-tls/ca.pem\"\nprefix =");
    let out = env.nurture(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("password") && !stderr.contains("wrong"), "{stderr}");
}

#[test]
fn a_missing_ca_file_is_named_with_what_to_do() {
    let env = TestEnv::new("tlsca");
    env.patch_config("prefix =", "ca_file = \"no/such/ca.pem\"\nprefix =");
    let out = env.nurture(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("[redis] ca_file") && stderr.contains("no/such/ca.pem"), "{stderr}");
}

/// One `redis-server --sentinel` watching `master` at `primary_port` (quorum 1, down after 1 s).
struct Sentinel {
    child: std::process::Child,
    port: u16,
}

impl Sentinel {
    fn start(dir: &Path, primary_port: u16) -> Sentinel {
        std::fs::create_dir_all(dir).unwrap();
        let port = crate::support::free_port_pub();
        let conf = dir.join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary_port} 1\n\
                 sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n",
                dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        crate::support::wait_for_port_pub(port);
        Sentinel { child, port }
    }

    fn ask(&self, args: &[&str]) -> redis::Value {
        let mut c = redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .unwrap()
            .get_connection()
            .unwrap();
        let mut cmd = redis::cmd("SENTINEL");
        for a in args {
            cmd.arg(*a);
        }
        cmd.query(&mut c).unwrap()
    }

    /// The port of the primary it names now.
    fn primary_port(&self) -> u16 {
        match self.ask(&["get-master-addr-by-name", "mymaster"]) {
            redis::Value::Array(v) => redis::from_redis_value::<String>(v[1].clone()).unwrap().parse().unwrap(),
            other => panic!("{other:?}"),
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn per_recipient(env: &TestEnv) -> std::collections::HashMap<String, usize> {
    let mut per = std::collections::HashMap::new();
    // A message still being written has no headers yet; it counts once it is whole.
    for to in env.sink().messages().iter().filter_map(|m| crate::support::header(m, "To")) {
        *per.entry(to).or_default() += 1;
    }
    per
}

#[test]
fn behind_sentinel_a_worker_follows_the_failover_and_loses_nothing() {
    let env = TestEnv::new("sentinel");
    let base = env.path().join("redis-sentinel");
    let (mut primary, _replica) = primary_and_replica(&base);
    let sentinel = Sentinel::start(&base.join("sentinel"), primary.port);
    // The sentinel must know the replica before it can promote it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !matches!(sentinel.ask(&["replicas", "mymaster"]), redis::Value::Array(ref v) if !v.is_empty()) {
        assert!(std::time::Instant::now() < deadline, "the sentinel never saw the replica");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    env.write_config("heartbeat_secs = 1\nclaim_ttl_secs = 3\nconcurrency = 16\ndrain_wait_secs = 3");
    env.patch_config(
        &format!("url = \"{}\"", crate::support::redis_url()),
        &format!(
            "url = \"redis://ignored/0\"\nsentinel = [\"127.0.0.1:{}\"]\nmaster = \"mymaster\"",
            sentinel.port
        ),
    );
    env.patch_config("pool_size = 16", "pool_size = 8\nrate_per_second = 400");
    let n = 3000;
    let mut csv = String::from("email,first_name,plan\n");
    for i in 0..n {
        csv.push_str(&format!("s{i}@example.com,Sam{i},8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", crate::DATE]);
    env.ok(&["run", "--date", crate::DATE, "--enqueue-only"]);
    let log_path = env.path().join("worker.log");
    let mut worker = env
        .command(&["work"])
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let before = env.sink().wait_for(600, std::time::Duration::from_secs(60));
    assert!(before >= 600, "the worker should have sent some mail through the first primary");
    let old = primary.port;
    primary.kill();
    let killed_at = std::time::Instant::now();
    let deadline = killed_at + std::time::Duration::from_secs(60);
    while per_recipient(&env).len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} recipients received mail: {}",
            per_recipient(&env).len(),
            log()
        );
        assert!(worker.try_wait().unwrap().is_none(), "the worker died: {}", log());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_ne!(sentinel.primary_port(), old, "the sentinel promoted the replica");
    let _ = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status();
    assert!(worker.wait().unwrap().success(), "{}", log());
    assert!(log().contains("Redis primary moved"), "{}", log());
    let per = per_recipient(&env);
    let repeated: usize = per.values().map(|c| c - 1).sum();
    eprintln!(
        "sentinel failover: {before} sent before the kill, all {n} recipients reached {:.1} s after it, {repeated} received twice",
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(per.len(), n, "0 lost");
    assert!(
        repeated <= 200,
        "repeats only from the writes the replica had not received: {repeated}"
    );
}

/// A primary (full syncs at once) and a replica of it, synced.
fn primary_and_replica(base: &Path) -> (PrivateRedis, PrivateRedis) {
    let primary = PrivateRedis::start_with(&base.join("primary"), false, &["--repl-diskless-sync-delay", "0"]);
    let replica_of = primary.port.to_string();
    let replica = PrivateRedis::start_with(&base.join("replica"), false, &["--replicaof", "127.0.0.1", &replica_of]);
    wait_synced(&primary, &replica);
    (primary, replica)
}

/// RFC 8058 one-click unsubscribe of the message `to` received, through `server`.
fn one_click(server: &crate::support::Server, env: &TestEnv, to: &str) -> crate::support::HttpResponse {
    let link = crate::compliance::link_for(env, to);
    crate::support::http(
        "POST",
        &format!("{}{link}", server.base),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "List-Unsubscribe=One-Click",
    )
}

/// Waits until `replica` applies what `primary` writes. Its link being up is not enough: after a
/// diskless sync the primary streams commands only once the replica's first `REPLCONF ACK`
/// arrives (up to a second later), and until then `WAIT` gets no answer.
fn wait_synced(primary: &PrivateRedis, replica: &PrivateRedis) {
    let mut p = redis::Client::open(primary.url()).unwrap().get_connection().unwrap();
    let mut r = redis::Client::open(replica.url()).unwrap().get_connection().unwrap();
    let marker = format!("synced:{}", std::process::id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let _: () = redis::cmd("INCR").arg(&marker).query(&mut p).unwrap();
        let written: i64 = redis::cmd("GET").arg(&marker).query(&mut p).unwrap();
        let applied: Option<i64> = redis::cmd("GET").arg(&marker).query(&mut r).ok().flatten();
        if applied == Some(written) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _: () = redis::cmd("DEL").arg(&marker).query(&mut p).unwrap();
}

#[test]
fn an_opt_out_is_acknowledged_only_once_a_replica_has_it() {
    let env = TestEnv::new("waitrepl");
    let (primary, mut replica) = primary_and_replica(&env.path().join("redis"));
    env.patch_config(
        &format!("url = \"{}\"", crate::support::redis_url()),
        &format!("url = \"{}\"\nwait_replicas = 1\nwait_ms = 300", primary.url()),
    );
    env.import(crate::CONTACTS, &["--enrolled-on", crate::DATE]);
    assert_eq!(env.json(&["run", "--now", crate::NOW])["sent"], 3);
    let server = env.serve(&["--no-schedule", "--no-worker"]);
    let replica_url = replica.url();
    let on_replica = |value: &str| -> bool {
        let mut r = redis::Client::open(replica_url.as_str()).unwrap().get_connection().unwrap();
        redis::cmd("HEXISTS")
            .arg(format!("{}:suppression:email", env.prefix))
            .arg(value)
            .query(&mut r)
            .unwrap()
    };
    let accepted = one_click(&server, &env, "olivia.bennett@example.com");
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert!(
        on_replica("olivia.bennett@example.com"),
        "answered 200 only once the replica has it"
    );

    // No replica to confirm: the opt-out is not acknowledged (the sender retries), and the CLI says why.
    replica.kill();
    let refused = one_click(&server, &env, "ahmed@example.com");
    assert_eq!(refused.status, 503, "{refused:?}");
    let out = env.nurture(&["suppress", "add", "zed@example.com"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("confirmed by 0 of 1 replica") && stderr.contains("wait_replicas"),
        "{stderr}"
    );

    // The replica is back: the same click goes through.
    replica.restart();
    wait_synced(&primary, &replica);
    assert_eq!(one_click(&server, &env, "ahmed@example.com").status, 200);
    assert!(on_replica("ahmed@example.com"));
    assert!(server.terminate().success());
}

fn to_counts(env: &TestEnv) -> std::collections::BTreeMap<String, usize> {
    let mut per = std::collections::BTreeMap::new();
    for to in env
        .sink()
        .messages()
        .iter()
        .filter_map(|m| crate::support::header(m, "X-Rcpt-Args"))
    {
        *per.entry(to.trim_matches(|c| c == '<' || c == '>').to_string()).or_default() += 1;
    }
    per
}

#[test]
fn a_backup_restored_into_a_fresh_redis_sends_nothing_twice_and_mails_nobody_suppressed() {
    let env = TestEnv::new("backup");
    env.write_config(DELIVERY);
    env.import(crate::CONTACTS, &["--enrolled-on", crate::DATE]);
    let first = env.json(&["run", "--now", crate::NOW]);
    assert!(first["sent"].as_u64().unwrap() >= 3, "{first}");
    env.ok(&["suppress", "add", "grace@example.com"]);
    let archive = env.path().join("nurture.backup");
    let out = env.json(&["backup", archive.to_str().unwrap()]);
    assert_eq!(out["contacts"], 3, "{out}");
    assert!(out["deliveries"].as_u64().unwrap() >= 3, "the ledger is in it: {out}");
    assert!(!env.path().join("nurture.backup.partial").exists());
    let text = std::fs::read_to_string(&archive).unwrap();
    assert!(!text.contains("\"jobs"), "the queue is not archived");

    // A fresh Redis: restore, then the same night again and the next week's touch.
    let fresh = PrivateRedis::start(&env.path().join("fresh-redis"), false);
    env.patch_config(
        &format!("url = \"{}\"", crate::support::redis_url()),
        &format!("url = \"{}\"", fresh.url()),
    );
    let restored = env.json(&["restore", archive.to_str().unwrap()]);
    assert_eq!(
        (restored["keys"].clone(), restored["contacts"].clone()),
        (out["keys"].clone(), out["contacts"].clone()),
        "{restored}"
    );
    let before = to_counts(&env);
    let again = env.json(&["run", "--now", crate::NOW]);
    assert_eq!(again["sent"], 0, "the restored ledger knows what was sent: {again}");
    assert_eq!(to_counts(&env), before);
    let week2 = env.json(&["run", "--now", "2026-11-27T18:00:00Z"]);
    let after = to_counts(&env);
    assert_eq!(
        after.get("grace@example.com"),
        before.get("grace@example.com"),
        "suppressed before the backup: {week2}"
    );
    assert!(
        after["olivia.bennett@example.com"] > before["olivia.bennett@example.com"],
        "the others go on: {week2}"
    );

    // Into a prefix that holds data: refused, nothing written.
    let out = env.nurture(&["restore", archive.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("empty prefix"), "{stderr}");
    // A cut archive is named with its last line.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(env.path().join("cut.backup"), lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    env.patch_config(&format!("prefix = \"{}\"", env.prefix), &format!("prefix = \"{}-cut\"", env.prefix));
    let out = env.nurture(&["restore", "cut.backup"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("cut.backup: line") && stderr.contains("cut short"),
        "{stderr}"
    );
}

#[test]
fn a_person_forgotten_while_the_backup_was_written_is_forgotten_again_on_restore() {
    let env = TestEnv::new("backupforget");
    env.write_config(DELIVERY);
    env.import(crate::CONTACTS, &["--enrolled-on", crate::DATE]);
    let archive = env.path().join("a.backup");
    env.ok(&["backup", archive.to_str().unwrap()]);
    env.ok(&["forget", "ahmed@example.com"]);
    let later = env.path().join("b.backup");
    env.ok(&["backup", later.to_str().unwrap()]);
    // The archive a backup racing the forget could write: Ahmed's record and his hash.
    let forgotten_line = std::fs::read_to_string(&later)
        .unwrap()
        .lines()
        .find(|l| l.contains("\"key\":\"forgotten\""))
        .unwrap()
        .to_string();
    let mut lines: Vec<String> = std::fs::read_to_string(&archive).unwrap().lines().map(String::from).collect();
    let end = lines.pop().unwrap();
    let mut trailer: serde_json::Value = serde_json::from_str(&end).unwrap();
    lines.push(forgotten_line);
    trailer["keys"] = (trailer["keys"].as_u64().unwrap() + 1).into();
    trailer["lines"] = (trailer["lines"].as_u64().unwrap() + 1).into();
    lines.push(trailer.to_string());
    std::fs::write(&archive, lines.join("\n") + "\n").unwrap();
    let fresh = PrivateRedis::start(&env.path().join("fresh-redis"), false);
    env.patch_config(
        &format!("url = \"{}\"", crate::support::redis_url()),
        &format!("url = \"{}\"", fresh.url()),
    );
    let restored = env.json(&["restore", archive.to_str().unwrap()]);
    assert_eq!(restored["forgotten_again"], 1, "{restored}");
    let out = env.nurture(&["contact", "show", "ahmed@example.com"]);
    assert!(!out.status.success(), "Ahmed stays forgotten");
    assert_eq!(env.json(&["status"])["contacts"], 2);
}

#[test]
fn four_workers_and_two_servers_with_workers_killed_send_each_message_once_and_run_the_night_once() {
    let env = TestEnv::new("many");
    env.write_config("heartbeat_secs = 1\nclaim_ttl_secs = 3\nconcurrency = 16\ndrain_wait_secs = 3");
    // The scheduled night fires every second in both servers; the date is the same all day.
    env.patch_config("[delivery]", "[schedule]\ncron = \"* * * * * *\"\n\n[delivery]");
    let today = String::from_utf8(
        Command::new("date")
            .env("TZ", "America/Chicago")
            .arg("+%F")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let n = 20_000;
    let mut csv = String::from("email,first_name,plan\n");
    for i in 0..n {
        csv.push_str(&format!("m{i}@example.com,Max{i},8x8\n"));
    }
    env.import(&csv, &["--enrolled-on", today.trim()]);
    let logs: Vec<_> = (0..2).map(|i| env.path().join(format!("serve{i}.log"))).collect();
    let servers: Vec<_> = logs.iter().map(|log| env.serve_logged(&[], log)).collect();
    let work = || env.command(&["work"]).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut workers: Vec<std::process::Child> = (0..4).map(|_| work()).collect();
    let mut kills = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    // SIGKILL a different worker at 4,000, 9,000 and 14,000 messages and start a new one.
    for (at, victim) in [(4_000, 1), (9_000, 3), (14_000, 0)] {
        while env.sink().count() < at {
            assert!(std::time::Instant::now() < deadline, "stuck at {} of {n}", env.sink().count());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        workers[victim].kill().unwrap();
        workers[victim].wait().unwrap();
        workers[victim] = work();
        kills += 1;
    }
    while per_recipient(&env).len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} recipients reached",
            per_recipient(&env).len()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    for mut w in workers {
        let _ = Command::new("kill").args(["-TERM", &w.id().to_string()]).status();
        assert!(w.wait().unwrap().success(), "SIGTERM ends a worker with 0");
    }
    for s in servers {
        assert!(s.terminate().success());
    }
    let per = per_recipient(&env);
    let repeated: usize = per.values().map(|c| c - 1).sum();
    eprintln!("4 work + 2 serve, {kills} SIGKILLs over {n} messages: {repeated} received twice");
    assert_eq!(per.len(), n, "0 lost");
    // Each SIGKILL can repeat only what the killed worker had sent but not yet marked.
    assert!(repeated <= kills * 16, "{repeated} repeated");
    let ran: usize = logs
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap().matches("scheduled run queued its jobs").count())
        .sum();
    let skipped: usize = logs
        .iter()
        .map(|l| {
            std::fs::read_to_string(l)
                .unwrap()
                .matches("another process runs this date")
                .count()
        })
        .sum();
    assert_eq!(ran, 1, "one nightly run for the date across both servers");
    assert!(skipped >= 2, "the other firings found the date taken ({skipped})");
}

/// A local 3-primary Redis Cluster (no replicas), each node a private redis-server.
struct Cluster {
    nodes: Vec<PrivateRedis>,
}

impl Cluster {
    /// Three `binary` nodes (`redis-server` or a `valkey-server`) made a cluster by `redis-cli`.
    fn start(dir: &Path, binary: &str) -> Cluster {
        let nodes: Vec<PrivateRedis> = (0..3)
            .map(|i| {
                let d = dir.join(format!("node{i}"));
                let conf = d.join("nodes.conf").to_string_lossy().into_owned();
                PrivateRedis::start_binary(binary, &d, false, &["--cluster-enabled", "yes", "--cluster-config-file", &conf])
            })
            .collect();
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for n in &nodes {
            create.arg(format!("127.0.0.1:{}", n.port));
        }
        let out = create.arg("--cluster-yes").output().expect("redis-cli is installed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
        let cluster = Cluster { nodes };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cluster
            .nodes
            .iter()
            .all(|n| cluster.query::<String>(n, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        {
            assert!(std::time::Instant::now() < deadline, "the cluster never became ok");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        cluster
    }

    fn query<T: redis::FromRedisValue>(&self, node: &PrivateRedis, args: &[&str]) -> T {
        let mut c = redis::Client::open(node.url()).unwrap().get_connection().unwrap();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c).unwrap()
    }

    /// The index of the node that serves `key`'s slot.
    fn owner(&self, key: &str) -> usize {
        let slot: i64 = self.query(&self.nodes[0], &["CLUSTER", "KEYSLOT", key]);
        (0..self.nodes.len())
            .find(|&i| {
                let n = &self.nodes[i];
                let slots: Vec<Vec<redis::Value>> = self.query(n, &["CLUSTER", "SLOTS"]);
                slots.iter().any(|r| {
                    let (redis::Value::Int(a), redis::Value::Int(b)) = (&r[0], &r[1]) else {
                        return false;
                    };
                    let redis::Value::Array(p) = &r[2] else { return false };
                    (*a..=*b).contains(&slot) && redis::from_redis_value::<i64>(p[1].clone()).unwrap() == n.port as i64
                })
            })
            .unwrap()
    }

    /// Keys of a node that start with `prefix`.
    fn keys_on(&self, i: usize, prefix: &str) -> usize {
        let keys: Vec<String> = self.query(&self.nodes[i], &["KEYS", &format!("{prefix}*")]);
        keys.len()
    }
}

#[test]
fn two_tenants_on_different_nodes_of_a_cluster_each_run_work_serve_forget_and_report() {
    tenants_on_a_cluster("redis-server");
}

#[test]
fn two_tenants_on_a_valkey_cluster_each_run_work_serve_forget_and_report() {
    tenants_on_a_cluster(&crate::support::private_redis::valkey_server());
}

fn tenants_on_a_cluster(binary: &str) {
    let base = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(base.path(), binary);
    // Two tenants whose hash tags fall on different nodes.
    let mut tenants = Vec::new();
    for i in 0.. {
        let name = format!("brokerage-{i}");
        let owner = cluster.owner(&format!("{{{name}}}"));
        if tenants.iter().all(|(_, o)| *o != owner) {
            tenants.push((name, owner));
        }
        if tenants.len() == 2 {
            break;
        }
    }
    for (tenant, owner) in &tenants {
        let env = TestEnv::new("cluster");
        env.write_config(DELIVERY);
        // Any node as the seed: the first one, whoever owns the tenant's slot.
        env.patch_config(
            &format!("url = \"{}\"\nprefix = \"{}\"", crate::support::redis_url(), env.prefix),
            &format!("url = \"{}\"\nprefix = \"{tenant}\"\ncluster = true", cluster.nodes[0].url()),
        );
        env.import(crate::CONTACTS, &["--enrolled-on", crate::DATE]);
        let tag = format!("{{{tenant}}}:");
        assert!(cluster.keys_on(*owner, &tag) > 0, "{tenant}'s keys live on node {owner}");
        for other in (0..3).filter(|i| i != owner) {
            assert_eq!(cluster.keys_on(other, &tag), 0, "and only there");
        }
        // run queues, work delivers.
        let queued = env.json(&["run", "--now", crate::NOW, "--enqueue-only"]);
        assert!(queued["queued"].as_u64().unwrap() >= 3, "{queued}");
        let mut worker = env
            .command(&["work", "--now", crate::NOW])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let got = env.sink().wait_for(3, std::time::Duration::from_secs(60));
        let _ = Command::new("kill").args(["-TERM", &worker.id().to_string()]).status();
        assert!(worker.wait().unwrap().success());
        assert_eq!(got, 3, "{tenant}: one email per contact");
        // serve: a one-click unsubscribe lands in this tenant's suppression list.
        let server = env.serve(&["--no-schedule", "--no-worker"]);
        let r = one_click(&server, &env, "grace@example.com");
        assert_eq!(r.status, 200, "{r:?}");
        assert!(server.terminate().success());
        let listed = env.ok(&["suppress", "list"]);
        assert!(listed.contains("grace@example.com"), "{listed}");
        // forget and report.
        env.ok(&["forget", "ahmed@example.com"]);
        assert_eq!(env.json(&["status"])["contacts"], 2);
        let report = env.json(&["report", "--from", crate::DATE, "--to", crate::DATE]);
        assert!(report.to_string().contains("\"sent\""), "{report}");
    }
}

impl Cluster {
    /// Moves `key`'s slot, with its keys, from node `from` to node `to` (what resharding does).
    fn move_slot(&self, key: &str, from: usize, to: usize) {
        let slot: i64 = self.query(&self.nodes[0], &["CLUSTER", "KEYSLOT", key]);
        let slot = slot.to_string();
        let id = |i: usize| -> String { self.query(&self.nodes[i], &["CLUSTER", "MYID"]) };
        let (from_id, to_id) = (id(from), id(to));
        let _: () = self.query(&self.nodes[to], &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]);
        let _: () = self.query(&self.nodes[from], &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]);
        loop {
            let keys: Vec<String> = self.query(&self.nodes[from], &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]);
            if keys.is_empty() {
                break;
            }
            let port = self.nodes[to].port.to_string();
            let mut args = vec!["MIGRATE", "127.0.0.1", &port, "", "0", "5000", "KEYS"];
            args.extend(keys.iter().map(String::as_str));
            let _: String = self.query(&self.nodes[from], &args);
        }
        for n in &self.nodes {
            let _: () = self.query(n, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        }
    }
}

#[test]
fn a_running_server_follows_its_slot_when_the_cluster_moves_it() {
    let base = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(base.path(), "redis-server");
    let tenant = "moving";
    let tag = format!("{{{tenant}}}");
    let from = cluster.owner(&tag);
    let to = (from + 1) % 3;
    let env = TestEnv::new("clustermove");
    env.write_config(DELIVERY);
    env.patch_config(
        &format!("url = \"{}\"\nprefix = \"{}\"", crate::support::redis_url(), env.prefix),
        &format!("url = \"{}\"\nprefix = \"{tenant}\"\ncluster = true", cluster.nodes[from].url()),
    );
    env.import(crate::CONTACTS, &["--enrolled-on", crate::DATE]);
    assert!(env.json(&["run", "--now", crate::NOW])["sent"].as_u64().unwrap() >= 3);
    let log = env.path().join("serve.log");
    let server = env.serve_logged(&["--no-schedule", "--no-worker"], &log);
    cluster.move_slot(&tag, from, to);
    assert_eq!(cluster.keys_on(from, &format!("{tag}:")), 0, "the keys left node {from}");
    let r = one_click(&server, &env, "grace@example.com");
    let text = || std::fs::read_to_string(&log).unwrap();
    assert_eq!(r.status, 200, "{r:?}: {}", text());
    assert!(server.terminate().success());
    let text = text();
    assert!(text.contains("Redis primary moved"), "{text}");
    assert!(env.ok(&["suppress", "list"]).contains("grace@example.com"));
    assert!(cluster.keys_on(to, &format!("{tag}:suppression")) > 0);
}
