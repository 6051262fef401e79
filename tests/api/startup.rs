//! What stops the start, read as an operator reads it: one line that names what to fix
//! (the flag or the variable, the database server or file) and the cause, said once.

use std::{
    process::Output,
    time::{Duration, Instant},
};

use crate::{cli::userd, helpers};

/// The one line of stderr, after checking the exit code and that nothing panicked.
fn one_line(out: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_bad_flag_is_blamed_on_the_flag_and_a_bad_variable_on_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let out = userd(dir.path()).args(["--bind", "nonsense", "serve"]).output().expect("run");
    let err = one_line(&out, 2);
    assert!(err.contains("--bind") && err.contains("nonsense"), "{err}");
    assert!(!err.contains("USERD_BIND"), "{err}");

    let out = userd(dir.path()).env("USERD_BIND", "nonsense").arg("serve").output().expect("run");
    let err = one_line(&out, 2);
    assert!(err.contains("USERD_BIND"), "{err}");
}

#[test]
fn an_unreachable_postgres_fails_fast_naming_the_server_and_the_cause_once() {
    let dir = tempfile::tempdir().expect("dir");
    let started = Instant::now();
    // Port 1 is closed: the connection is refused at once.
    let out = userd(dir.path())
        .env("USERD_DATABASE_URL", "postgres://userd:hunter2@127.0.0.1:1/userd")
        .arg("migrate")
        .output()
        .expect("run");
    // Generous: this guards against the former 10 s wait, not a precise figure.
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    let err = one_line(&out, 1);
    assert!(err.contains("127.0.0.1:1") && err.contains("database userd"), "{err}");
    assert_eq!(err.matches("connection refused").count(), 1, "{err}");
    assert!(!err.contains("hunter2"), "the password is never printed: {err}");
    assert!(!err.contains("pool timed out"), "{err}");
}

#[tokio::test]
async fn a_missing_postgres_database_is_named_once() {
    let Some(admin) = helpers::postgres_url() else {
        eprintln!("NOTICE: USERD_TEST_POSTGRES_URL is not set: a_missing_postgres_database_is_named_once is skipped");
        return;
    };
    let url = helpers::with_database(&admin, "userd_missing_xyz");
    let dir = tempfile::tempdir().expect("dir");
    let out = tokio::task::spawn_blocking(move || {
        userd(dir.path()).env("USERD_DATABASE_URL", url).arg("migrate").output().expect("run")
    })
    .await
    .expect("join");
    let err = one_line(&out, 1);
    assert!(err.contains("PostgreSQL at "), "names the server: {err}");
    assert_eq!(err.matches("\"userd_missing_xyz\" does not exist").count(), 1, "the cause, once: {err}");
    assert!(!err.contains(" at line "), "no line number of PostgreSQL's source: {err}");
}

#[test]
fn a_data_dir_that_cannot_be_created_or_a_file_that_is_not_a_database_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("dir");
    // A regular file where a directory is needed: refused whoever runs the test (root included).
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let out = userd(&file.join("data")).arg("migrate").output().expect("run");
    let err = one_line(&out, 1);
    assert!(err.contains("cannot create the directory") && err.contains("a-file/data"), "{err}");

    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("userd.db"), "this is not a database, just some text").expect("write");
    let out = userd(&data).arg("migrate").output().expect("run");
    let err = one_line(&out, 1);
    assert!(err.contains("userd.db"), "names the file: {err}");
    assert_eq!(err.matches("file is not a database").count(), 1, "the cause, once: {err}");
    assert!(!err.contains("code:"), "{err}");
}
