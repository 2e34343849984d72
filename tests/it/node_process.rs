//! The `pacer` binary as an operator starts it: settings from the environment and from files,
//! the start-up errors and the start-up log, and Redis over TLS with a password or an ACL user.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::ACME_KEY;

/// The binary with `env` only (and `PATH`), serving on a free loopback port.
fn pacer(env: &[(&str, &str)]) -> (Command, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env("PACER_LISTEN", format!("127.0.0.1:{port}"))
        .env("PACER_API_KEYS", format!("acme:{ACME_KEY}"));
    for (key, value) in env {
        command.env(key, value);
    }
    (command, port)
}

/// Runs the binary expecting it to refuse to start: its exit status and what it printed.
fn refused(env: &[(&str, &str)]) -> (i32, String) {
    let (mut command, _) = pacer(env);
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > give_up {
            let _ = child.kill();
            panic!("the node started: {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    (output.status.code().unwrap_or(-1), printed)
}

/// A node process, killed when dropped; its output goes to a file.
struct Running {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Running {
    async fn start(env: &[(&str, &str)]) -> Self {
        let (mut command, port) = pacer(env);
        let log = std::env::temp_dir().join(format!("pacer-node-{}.log", uuid::Uuid::new_v4()));
        let child = command
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
            .spawn()
            .unwrap();
        let node = Self { child, port, log };
        let give_up = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(node.url("/readyz")).await;
            if ready.is_ok_and(|reply| reply.status().is_success()) {
                return node;
            }
            assert!(
                Instant::now() < give_up,
                "the node did not become ready: {}",
                node.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn output(&self) -> String {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        read(&self.log) + &read(&self.log.with_extension("err"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(self.log.with_extension("err"));
    }
}

#[actix_web::test]
async fn unknown_pacer_variables_are_named_in_one_warning_and_the_node_serves() {
    // The README prints `export PACER_KEY=…`; a platform's service `pacer` brings PACER_PORT.
    let node = Running::start(&[
        ("PACER_KEY", "pk_0123456789abcdef"),
        ("PACER_PORT", "tcp://10.0.0.1:8080"),
        ("PACER_SERVICE_HOST", "10.0.0.1"),
    ])
    .await;
    let output = node.output();
    let warnings: Vec<&str> = output
        .lines()
        .filter(|line| line.contains("name no setting"))
        .collect();
    assert_eq!(warnings.len(), 1, "{output}");
    for name in ["PACER_KEY", "PACER_PORT", "PACER_SERVICE_HOST"] {
        assert!(warnings[0].contains(name), "{output}");
    }
    assert!(
        !output.contains("pk_0123456789abcdef"),
        "a value was logged"
    );
}

#[test]
fn an_unknown_key_in_a_config_file_given_explicitly_stays_an_error() {
    let file = std::env::temp_dir().join(format!("pacer-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&file, "max_calls_per_dya = 5\n").unwrap();
    let (mut command, _) = pacer(&[]);
    let output = command.arg("--config").arg(&file).output().unwrap();
    let _ = std::fs::remove_file(&file);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("max_calls_per_dya"));
}

#[test]
fn a_bad_redis_url_stops_start_up_with_one_line_naming_the_setting() {
    for url in ["http://x", "not a url", "redis://:s3cret@/"] {
        let (status, printed) = refused(&[("PACER_REDIS_URL", url)]);
        assert_eq!(status, 2, "{url}: {printed}");
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 1, "{url}: {printed}");
        assert!(lines[0].contains("redis_url"), "{url}: {printed}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(!printed.contains("panicked"), "{printed}");
    }
}

#[test]
fn settings_that_cannot_go_together_stop_start_up() {
    let (status, printed) = refused(&[(
        "PACER_API_KEYS",
        "acme:0123456789abcdef,globex:0123456789abcdef",
    )]);
    assert_eq!(status, 2);
    assert!(
        printed.contains("`acme` and `globex` are given the same key"),
        "{printed}"
    );
    // The secret verifies call events whatever the dialer.
    let (status, printed) = refused(&[("PACER_DIALER_SECRET", "short")]);
    assert_eq!(status, 2);
    assert!(
        printed.contains("dialer_secret: at least 16 characters"),
        "{printed}"
    );
}

#[actix_web::test]
async fn a_secret_may_come_from_a_file_named_by_a_file_variable() {
    let file = std::env::temp_dir().join(format!("pacer-keys-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, "globex:file-key-0123456789abcdef\n").unwrap();
    let path = file.to_str().unwrap().to_owned();
    let (status, printed) = refused(&[
        ("PACER_API_KEYS_FILE", &path),
        ("PACER_API_KEYS", "acme:0123456789abcdef0"),
    ]);
    assert_eq!(status, 2);
    assert!(
        printed.contains("either PACER_API_KEYS or PACER_API_KEYS_FILE"),
        "{printed}"
    );
    let (mut command, port) = pacer(&[]);
    let mut child = command
        .env_remove("PACER_API_KEYS")
        .env("PACER_API_KEYS_FILE", &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/public/v1/batch-calls");
    let client = reqwest::Client::new();
    let give_up = Instant::now() + Duration::from_secs(20);
    let status = loop {
        let reply = client
            .get(&url)
            .bearer_auth("file-key-0123456789abcdef")
            .send()
            .await;
        if let Ok(reply) = reply {
            break reply.status().as_u16();
        }
        assert!(Instant::now() < give_up, "the node did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&file);
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn the_start_up_log_names_the_node_and_warns_of_the_memory_store_and_simulated_dialer() {
    let node = Running::start(&[("PACER_NODE_ID", "node-under-test")]).await;
    let output = node.output();
    let serving = output
        .lines()
        .find(|line| line.contains("serving"))
        .unwrap_or_else(|| panic!("{output}"));
    for part in [
        env!("CARGO_PKG_VERSION"),
        "store=\"memory\"",
        "dialer=Simulated",
        "node-under-test",
        &format!("127.0.0.1:{}", node.port),
    ] {
        assert!(serving.contains(part), "{part} not in: {serving}");
    }
    assert!(output.contains("nothing survives a restart"), "{output}");
    assert!(output.contains("no real call is placed"), "{output}");
}

/// A redis-server with TLS only, on a free loopback port, with a password for the default user
/// and an ACL user `alice`; its certificates are made here, signed by a CA of the test's own.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("pacer-tls-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, &ca_key);
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .current_dir(&dir)
            .args(["--port", "0", "--bind", "127.0.0.1", "--tls-port"])
            .arg(port.to_string())
            .args([
                "--tls-cert-file",
                "server.pem",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.pem", "--tls-auth-clients", "no"])
            .args([
                "--requirepass",
                "default-pass",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--user", "alice", "on", ">alice-pass", "~*", "&*", "+@all"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        assert!(
            crate::helpers::port_opens(port),
            "redis-server did not start on port {port}"
        );
        Self { child, port, dir }
    }

    fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis store on the TLS server as `credentials`, checking its certificate against `ca`.
fn tls_store(redis: &TlsRedis, credentials: &str, ca: Option<Vec<u8>>) -> pacer::store::RedisStore {
    pacer::store::RedisStore::connect(&pacer::store::RedisSettings {
        url: format!("rediss://{credentials}@127.0.0.1:{}/", redis.port),
        cluster: false,
        prefix: format!("test:{}:", uuid::Uuid::new_v4().simple()),
        connections: 1,
        response_timeout: Duration::from_secs(5),
        call_deadline: pacer::store::CallDeadline::default(),
        ca_pem: ca,
        idempotency: Default::default(),
    })
    .unwrap()
}

#[actix_web::test]
async fn the_redis_store_speaks_tls_with_a_password_or_an_acl_user() {
    use pacer::store::capabilities::*;
    let redis = TlsRedis::start();
    let ca = std::fs::read(redis.ca_file()).unwrap();
    for credentials in [":default-pass", "alice:alice-pass"] {
        let store = tls_store(&redis, credentials, Some(ca.clone()));
        store.ping().await.expect("TLS and the credentials hold");
        let id = crate::store_conformance::scheduled(&store, 3, Default::default()).await;
        let fence = store
            .acquire_lease(id, "node", Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap();
        let now = crate::store_conformance::now();
        assert_eq!(
            store
                .claim_due(id, fence, now, 10)
                .await
                .unwrap()
                .calls
                .len(),
            3
        );
    }
    // A wrong password, or a server certificate the system's roots do not vouch for: refused.
    let wrong = tls_store(&redis, "alice:wrong", Some(ca));
    assert!(wrong.ping().await.is_err());
    let untrusted = tls_store(&redis, ":default-pass", None);
    assert!(untrusted.ping().await.is_err());
}

#[actix_web::test]
async fn a_node_serves_on_redis_over_tls_with_an_acl_user_in_the_url() {
    let redis = TlsRedis::start();
    let url = format!("rediss://alice:alice-pass@127.0.0.1:{}/", redis.port);
    let ca = redis.ca_file();
    let node = Running::start(&[
        ("PACER_REDIS_URL", &url),
        ("PACER_REDIS_CA_FILE", ca.to_str().unwrap()),
        ("PACER_SIMULATED_CALL_MS", "0..0"),
    ])
    .await;
    assert!(
        !node.output().contains("alice-pass"),
        "the password was logged"
    );
    let client = reqwest::Client::new();
    let base = node.url("/api/public/v1");
    let created: serde_json::Value = client
        .post(format!("{base}/batch-calls"))
        .bearer_auth(ACME_KEY)
        // Numbers no legal floor applies to: the campaign completes at any hour of the run.
        .json(&json!({
            "name": "tls", "agent_id": "a", "working_days": [1, 2, 3, 4, 5, 6, 7],
            "contacts": [{ "phone_number": "+447700900100" }, { "phone_number": "+447700900101" }],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"].as_str().expect("created").to_owned();
    client
        .post(format!("{base}/batch-calls/{id}/schedule"))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let campaign: serde_json::Value = client
            .get(format!("{base}/batch-calls/{id}"))
            .bearer_auth(ACME_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if campaign["data"]["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < give_up, "not completed: {campaign}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A metric's value in a scrape (`name{labels}` exactly as written), if present.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// A node's own process, so that its gauges are its own: every counter at 0 from the start, the
/// build, and the queue, calls and leases of the campaign it dispatches.
#[actix_web::test]
async fn a_node_s_metrics_answer_what_it_runs_and_start_at_zero() {
    let node = Running::start(&[("PACER_SIMULATED_CALL_MS", "60000..60000")]).await;
    let client = reqwest::Client::new();
    let scrape = || async {
        client
            .get(node.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let first = scrape().await;
    let version = format!(
        "pacer_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&first, &version), Some(1.0), "{first}");
    for series in [
        "pacer_calls_finished_total{outcome=\"busy\"}",
        "pacer_contacts_held_total{reason=\"legal_hours\"}",
        "pacer_dialer_requests_total{result=\"refused\"}",
        "pacer_store_errors_total{from=\"dispatch\"}",
        "pacer_webhook_dead_letters_total",
        "pacer_queue_contacts{state=\"waiting\"}",
        "pacer_leases_held",
    ] {
        assert_eq!(sample(&first, series), Some(0.0), "{series} in {first}");
    }
    let contacts: Vec<_> = (0..5)
        .map(|index| json!({ "phone_number": crate::helpers::phone(index) }))
        .collect();
    let created: serde_json::Value = client
        .post(node.url("/api/public/v1/batch-calls"))
        .bearer_auth(ACME_KEY)
        .json(
            &json!({ "name": "m", "agent_id": "a", "working_days": [1, 2, 3, 4, 5, 6, 7],
                       "max_concurrent_calls": 1, "contacts": contacts }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["id"].as_str().unwrap();
    let scheduled = client
        .post(node.url(&format!("/api/public/v1/batch-calls/{id}/schedule")))
        .bearer_auth(ACME_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(scheduled.status(), 200);
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        let now = scrape().await;
        let read = |series: &str| sample(&now, series).unwrap_or(-1.0);
        let seen = (
            read("pacer_calls_in_flight"),
            read("pacer_queue_contacts{state=\"waiting\"}"),
            read("pacer_queue_contacts{state=\"due\"}"),
            read("pacer_leases_held"),
        );
        // One call in flight, four waiting and due but for a free line, one lease.
        if seen == (1.0, 4.0, 4.0, 1.0) {
            break;
        }
        assert!(Instant::now() < give_up, "{seen:?}\n{now}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
