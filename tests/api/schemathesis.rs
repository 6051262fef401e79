//! Hostile input found by a machine: schemathesis (PyPI) generates requests from the served
//! `/api/openapi.json` (examples, boundary and negative values, random fuzzing, and chains of
//! calls through the document's links) against a live userd for a bounded time, as a staff
//! user so that every operation is reached. Any 5xx, or any answer whose status, content
//! type, headers or body the document does not describe, fails the test with schemathesis'
//! report (each failure with a `curl` line that reproduces it).
//!
//! Locally a missing schemathesis skips the test with a notice; in CI (`CI=true`) it fails
//! it, since `.ci/run` installs it. The budget is split between the two backends
//! (`USERD_SCHEMATHESIS_SECONDS` each, 45 by default). By hand, against any running userd:
//!
//! ```sh
//! st run http://127.0.0.1:8000/api/openapi.json --max-time 90 \
//!   --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance \
//!   -H "Authorization: Bearer $ACCESS"
//! ```

use std::process::Command;

use crate::{both_backends, helpers::*};

/// What the document promises and schemathesis checks: no server error, and every answer
/// described by the document (status, content type, headers, body).
const CHECKS: &str = "not_a_server_error,response_schema_conformance,status_code_conformance,\
content_type_conformance,response_headers_conformance";

fn installed() -> bool {
    Command::new("python3").args(["-m", "schemathesis.cli", "--version"]).output().is_ok_and(|out| out.status.success())
}

/// `None` when the test is to be skipped (schemathesis missing outside CI).
fn available() -> Option<()> {
    if installed() {
        return Some(());
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but schemathesis is not installed: .ci/run's python-packages step installs it");
    }
    eprintln!(
        "NOTICE: schemathesis is not installed (python3 -m pip install schemathesis): the schemathesis test is skipped"
    );
    None
}

async fn fuzz(app: &TestApp) {
    if available().is_none() {
        return;
    }
    let (access, _) = app.register_tokens("fuzzer@example.com").await;
    // Staff, so that the staff operations are reached too (the account is read on every
    // request, so the change holds at once).
    app.db.execute("UPDATE users SET is_staff = TRUE WHERE email = 'fuzzer@example.com'").await;
    let seconds =
        std::env::var("USERD_SCHEMATHESIS_SECONDS").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| "45".into());
    let report = tempfile::tempdir().expect("report dir");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "schemathesis.cli", "run", &app.url("/api/openapi.json")])
        .args(["--max-time", &seconds, "--checks", CHECKS, "--workers", "2", "--request-timeout", "15"])
        .args(["--header", &format!("Authorization: Bearer {access}")])
        .args(["--report", "junit", "--report-dir"])
        .arg(report.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("NO_COLOR", "1")
        .current_dir(report.path());
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").expect("schemathesis runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "schemathesis found what the document does not promise ({:?} backend):\n{text}",
        app.db.backend
    );
    assert!(text.contains("passed"), "schemathesis ran its cases:\n{text}");
}

both_backends! {
    async fn schemathesis_finds_no_server_error_and_no_answer_the_document_does_not_describe(app) {
        fuzz(&app).await;
    }
}
