//! Document 000's client examples (curl, Python, JavaScript, Ruby, PHP, Go) run as written
//! against a live userd, through `scripts/run_doc_examples.py`. Languages whose interpreter
//! is missing are skipped locally; in CI (`CI` set) every language must run.

use std::{io::Write as _, path::PathBuf, process::Command};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_examples_of_document_000_run_as_written() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let spec = root.join("../shared/spec/000_a764bc1f444f021d.txt");
    if !spec.exists() {
        assert!(std::env::var("CI").is_err(), "the API documents must be beside the project in CI");
        let _ = writeln!(std::io::stderr(), "NOTICE: ../shared/spec not found: document examples skipped");
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("app");
    let (access, _) = app.register_tokens("user@example.com").await;
    let token: Value = json_of(app.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
    let token = token["access_token"].as_str().expect("token").to_string();
    let part = reqwest::multipart::Part::bytes(vec![1u8; 1234]).file_name("a.bin");
    let res = app
        .client
        .post(app.url("/api/files/"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);

    let mut cmd = Command::new("python3");
    cmd.arg(root.join("scripts/run_doc_examples.py")).arg("--spec").arg(&spec).args([
        "--base-url",
        &app.address,
        "--token",
        &token,
        "--json-report",
    ]);
    if std::env::var("CI").is_ok() {
        cmd.arg("--require-all");
    }
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = writeln!(std::io::stderr(), "{stdout}");
    assert!(out.status.success(), "examples failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).expect("json report");
    assert!(report["passed"].as_u64().unwrap_or(0) >= 12, "{report}");
    assert_eq!(report["failed"], 0);
}
