//! The served OpenAPI document passes `openapi-spec-validator`; `openapi-python-client`
//! generates a client for every operation without a warning; and
//! `tests/openapi_client/drive.py` drives that generated client against a live userd:
//! register, login, profile, refresh, `me`, token regeneration, upload, logout.
//!
//! Locally, missing tools skip the test with a notice; in CI (`CI=true`) they fail it,
//! since `.ci/run` installs them.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::helpers::*;

/// What `.ci/run` installs for this test.
const TOOLS: &str = "openapi-spec-validator / openapi-python-client";

fn tools_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import openapi_spec_validator, openapi_python_client"])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Runs a command off the async workers (the application under test keeps serving) and
/// returns its output with stdout and stderr together.
async fn run(mut cmd: Command) -> (Output, String) {
    let shown = format!("{cmd:?}");
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("{shown} could not start: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, text)
}

fn python(args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new("python3");
    cmd.args(args).current_dir(dir).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Lines of the generator's output that mean an operation or a schema was left out.
fn generator_warnings(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter(|l| {
            let lower = l.to_lowercase();
            lower.contains("warning") || lower.contains("could not") || lower.contains("unable to")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_openapi_document_drives_userd() {
    if !tools_installed() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true but {TOOLS} are not installed: .ci/run's python-packages step installs them");
        }
        let _ =
            writeln!(std::io::stderr(), "NOTICE: skipping: {TOOLS} not installed (pip install them to run this test)");
        return;
    }
    let app = TestApp::spawn_with(Backend::Sqlite, &[]).await.expect("SQLite is always available");
    let res = app.get("/api/openapi.json", None).await;
    assert!(res.status().is_success(), "GET /api/openapi.json: {}", res.status());
    let document = res.text().await.expect("body");

    let work = tempfile::tempdir().expect("temp dir");
    let spec = work.path().join("openapi.json");
    std::fs::write(&spec, document).expect("write openapi.json");
    let spec_arg = spec.to_str().expect("UTF-8 temp path");

    let (out, text) = run(python(&["-m", "openapi_spec_validator", spec_arg], work.path())).await;
    assert!(out.status.success(), "openapi-spec-validator refused the document:\n{text}");

    let package = work.path().join("userd_client");
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi_client/config.yml");
    let generate = [
        "-m",
        "openapi_python_client",
        "generate",
        "--path",
        spec_arg,
        "--output-path",
        package.to_str().expect("UTF-8 temp path"),
        "--meta",
        "none",
        "--config",
        config,
        "--fail-on-warning",
    ];
    let (out, text) = run(python(&generate, work.path())).await;
    assert!(out.status.success(), "openapi-python-client failed:\n{text}");
    let warnings = generator_warnings(&text);
    assert!(
        warnings.is_empty(),
        "openapi-python-client left something out:\n{}\n\nfull output:\n{text}",
        warnings.join("\n")
    );
    assert!(package.join("client.py").exists(), "no client was generated:\n{text}");

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi_client/drive.py");
    let mut drive = python(&[script.to_str().expect("UTF-8 path"), "--base-url", &app.address], work.path());
    drive.env("PYTHONPATH", work.path());
    let (out, text) = run(drive).await;
    let _ = writeln!(std::io::stderr(), "{text}");
    assert!(out.status.success(), "the generated client's journey failed:\n{text}");
    assert!(text.contains("journey complete"), "drive.py did not finish:\n{text}");
}
