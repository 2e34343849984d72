//! The command-line client (`pacer import`, `campaigns`, `status`, `pause`, …) against a node.

use std::process::Command;

use serde_json::json;

use crate::helpers::*;

/// Runs `pacer args…` against `app` with acme's key: (success, stdout, stderr).
async fn pacer(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pacer"));
    command
        .env_clear()
        .env("PACER_URL", &app.root)
        .env("PACER_API_KEY", ACME_KEY)
        .env("NO_COLOR", "1")
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[actix_web::test]
async fn the_cli_imports_lists_and_commands_campaigns() {
    let app = spawn_app(Backend::Memory).await;
    let id = app
        .create_campaign(0, json!({ "working_days": [1, 2, 3, 4, 5, 6, 7] }))
        .await;
    let file = std::env::temp_dir().join(format!("pacer-cli-{id}.csv"));
    std::fs::write(
        &file,
        "phone,name\n(201) 555-0123,Ada\n+15550000002,Grace\nnope,x\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, out, err) = pacer(
        &app,
        &[
            "import",
            path,
            "--campaign",
            &id,
            "--default-region",
            "US",
            "--quiet",
        ],
    )
    .await;
    std::fs::remove_file(&file).unwrap();
    assert!(ok, "{err}");
    assert!(out.contains(": 2 rows added, 1 not added\n"), "{out}");
    assert!(out.contains("invalid_number  1"), "{out}");
    assert!(out.contains("4    invalid_number  nope"), "{out}");
    assert_eq!(app.contacts(&id).await.len(), 2);

    app.command(&id, "schedule").await.expect(200);
    let (ok, out, _) = pacer(&app, &["campaigns", "--status", "active"]).await;
    assert!(ok);
    let row = out.lines().find(|line| line.starts_with(&id)).expect(&out);
    assert!(row.contains("active"), "{row}");
    let (ok, out, _) = pacer(&app, &["pause", &id]).await;
    assert!(ok);
    assert_eq!(out, format!("{id}: paused\n"));
    assert_eq!(app.campaign(&id).await["status"], "paused");
    let (ok, out, _) = pacer(&app, &["resume", &id]).await;
    assert!(ok && out.ends_with(": active\n"), "{out}");
    let (ok, _, _) = pacer(&app, &["health"]).await;
    assert!(ok, "the node is ready");
    let (ok, _, err) = pacer(&app, &["health", "--url", "http://127.0.0.1:9"]).await;
    assert!(!ok && err.contains("no answer"), "{err}");
    let (ok, out, _) = pacer(&app, &["status"]).await;
    assert!(ok);
    assert!(out.starts_with("1 node(s) alive\n"), "{out}");
    assert!(out.contains("active"), "{out}");

    // Errors: the API's message and the current status; a wrong key; no key.
    pacer(&app, &["cancel", &id]).await;
    let (ok, _, err) = pacer(&app, &["pause", &id]).await;
    assert!(!ok);
    assert!(
        err.contains("409") && err.contains("(the campaign is cancelled)"),
        "{err}"
    );
    let (ok, _, err) = pacer(&app, &["campaigns", "--key", "wrong-key-0123456789"]).await;
    assert!(!ok && err.contains("401"), "{err}");
}

#[actix_web::test]
async fn check_config_redacts_secrets_and_completions_are_printed() {
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .env_clear()
        .env("PACER_DIALER_SECRET", "a-very-secret-dialer-key")
        .env("PACER_API_KEYS", "acme:a-very-secret-api-key")
        .arg("check-config")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(out.contains("dialer_secret: \"<redacted>\""), "{out}");
    assert!(!out.contains("a-very-secret"), "{out}");
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .env_clear()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&output.stdout);
    assert!(
        script.contains("complete -F") && script.contains("import"),
        "{script}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_pacer"))
        .env_clear()
        .args(["campaigns", "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no API key"));
}

/// A command whose requests meet the rate limit waits as `Retry-After` says and goes on.
#[actix_web::test]
async fn the_cli_waits_out_the_rate_limit() {
    let mut settings = test_settings();
    settings.rate_limit_per_sec = 1.0;
    settings.rate_limit_burst = 1;
    let app = spawn_app_with(Backend::Memory.store(), monday_8am(), &settings).await;
    // `status` asks for the nodes, then the campaigns: the second request is over the limit.
    let started = std::time::Instant::now();
    let (ok, out, err) = pacer(&app, &["status"]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("1 node(s) alive\n"), "{out}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "it waited"
    );
}
