//! What stops the start, read as an operator reads it: one line that names what to fix.

use std::process::Output;

use crate::cli::userd;

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
