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
