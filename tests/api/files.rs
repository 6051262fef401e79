//! `/api/files/` and the storage summary: streaming uploads, isolation, limits, interrupted
//! uploads, and the same behaviour on local disk and on S3-compatible storage.

use std::{io::Write as _, time::Duration};

use tokio::io::AsyncWriteExt as _;

use reqwest::{StatusCode, header, multipart};
use serde_json::{Value, json};

use crate::{both_backends, helpers::*};

fn form(name: &str, bytes: Vec<u8>, content_type: &str) -> multipart::Form {
    let part = multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str(content_type).expect("mime");
    multipart::Form::new().part("file", part)
}

pub async fn upload(app: &TestApp, token: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/files/"))
        .bearer_auth(token)
        .multipart(form(name, bytes, "text/plain"))
        .send()
        .await
        .expect("send")
}

async fn summary(app: &TestApp, token: &str) -> Value {
    json_of(app.get("/api/users/storage/", Some(token)).await, StatusCode::OK).await
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

/// Upload, list, metadata, download, delete, and the summary at each step.
async fn full_round_trip(app: &TestApp) {
    let (token, _) = app.register_tokens("user@example.com").await;
    assert_eq!(summary(app, &token).await, json!({"total_bytes": 0, "file_count": 0}));

    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let res = upload(app, &token, "naïve report.txt", bytes.clone()).await;
    let file = json_of(res, StatusCode::CREATED).await;
    assert_eq!(file["name"], "naïve report.txt");
    assert_eq!(file["size"], 300_000);
    assert_eq!(file["status"], "available");
    assert_eq!(file["content_type"], "text/plain");
    assert_eq!(file["sha256"], sha256_hex(&bytes).as_str());
    let id = file["id"].as_str().expect("id").to_string();

    upload(app, &token, "b.txt", b"hello".to_vec()).await;
    assert_eq!(summary(app, &token).await, json!({"total_bytes": 300_005, "file_count": 2}));

    let list = json_of(app.get("/api/files/", Some(&token)).await, StatusCode::OK).await;
    assert_eq!(list["count"], 2);
    let meta = json_of(app.get(&format!("/api/files/{id}/"), Some(&token)).await, StatusCode::OK).await;
    assert_eq!(meta, file);

    let res = app.get(&format!("/api/files/{id}/content/"), Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/plain");
    let disposition = res.headers()[header::CONTENT_DISPOSITION].to_str().expect("ascii").to_string();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("filename*=UTF-8''na%C3%AFve%20report.txt"),
        "{disposition}"
    );
    assert_eq!(res.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), bytes.as_slice());

    let res = app.client.delete(app.url(&format!("/api/files/{id}/"))).bearer_auth(&token).send().await.expect("send");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/api/files/{id}/"), Some(&token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/files/{id}/content/"), Some(&token)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(summary(app, &token).await, json!({"total_bytes": 5, "file_count": 1}));
}

both_backends! {
    async fn files_round_trip_on_local_disk(app) {
        full_round_trip(&app).await;
    }
}

both_backends! {
    async fn no_user_can_see_download_or_delete_another_users_file(app) {
        let (alice, _) = app.register_tokens("alice@example.com").await;
        let (bob, _) = app.register_tokens("bob@example.com").await;
        let file = json_of(upload(&app, &alice, "secret.txt", b"alice's".to_vec()).await, StatusCode::CREATED).await;
        let id = file["id"].as_str().expect("id");
        for path in [format!("/api/files/{id}/"), format!("/api/files/{id}/content/")] {
            let body = json_of(app.get(&path, Some(&bob)).await, StatusCode::NOT_FOUND).await;
            assert_eq!(body, json!({"message": "Not found."}), "{path}");
        }
        let res = app.client.delete(app.url(&format!("/api/files/{id}/"))).bearer_auth(&bob).send().await.expect("send");
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_of(app.get("/api/files/", Some(&bob)).await, StatusCode::OK).await["count"], 0);
        assert_eq!(summary(&app, &bob).await, json!({"total_bytes": 0, "file_count": 0}));
        // Still there for its owner.
        assert_eq!(app.get(&format!("/api/files/{id}/content/"), Some(&alice)).await.status(), StatusCode::OK);
        assert_eq!(app.get("/api/files/", None).await.status(), StatusCode::UNAUTHORIZED);
    }
}

both_backends! {
    async fn uploads_without_a_file_or_not_multipart_are_refused(app) {
        let (token, _) = app.register_tokens("user@example.com").await;
        let res = app.client.post(app.url("/api/files/")).bearer_auth(&token).multipart(multipart::Form::new().text("other", "x")).send().await.expect("send");
        let body = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"message": "No file was submitted.", "errors": {"file": ["No file was submitted."]}}));
        let res = app.post_json("/api/files/", &json!({"file": "x"}), Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(summary(&app, &token).await["file_count"], 0);
    }
}

both_backends! {
    async fn uploads_over_the_limit_are_refused_and_leave_nothing(app)
    env = [("USERD_MAX_UPLOAD_BYTES", "1000")];
    {
        let (token, _) = app.register_tokens("user@example.com").await;
        let res = upload(&app, &token, "big.bin", vec![7u8; 5000]).await;
        let body = json_of(res, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(body, json!({"message": "File too large: the limit is 1000 bytes."}));
        assert_eq!(json_of(upload(&app, &token, "ok.bin", vec![7u8; 1000]).await, StatusCode::CREATED).await["size"], 1000);
        assert_eq!(summary(&app, &token).await, json!({"total_bytes": 1000, "file_count": 1}));
        wait_for_files(&app, &token, 1).await;
    }
}

/// Waits until the caller has exactly `n` files (cleanup of a cut-off upload runs in the background).
async fn wait_for_files(app: &TestApp, token: &str, n: u64) {
    for _ in 0..100 {
        let list = json_of(app.get("/api/files/", Some(token)).await, StatusCode::OK).await;
        if list["count"] == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {n} files");
}

both_backends! {
    async fn an_interrupted_upload_never_counts_and_is_cleaned_up(app) {
        let (token, _) = app.register_tokens("user@example.com").await;
        let addr = app.address.trim_start_matches("http://").to_string();
        let boundary = "XyZ";
        let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
        let request = format!(
            "POST /api/files/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 10000000\r\n\r\n{head}"
        );
        let mut socket = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        socket.write_all(request.as_bytes()).await.expect("write");
        socket.write_all(&vec![1u8; 200_000]).await.expect("write body");
        socket.flush().await.expect("flush");
        // The upload is under way: its row exists, pending, before the cut.
        let pending = "SELECT COUNT(*) FROM files WHERE status = 'pending'";
        let mut seen = false;
        for _ in 0..200 {
            if app.db.count(pending).await == 1 {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert!(seen, "a pending row existed while the bytes streamed");
        // Dropping the socket cuts the upload off midway.
        drop(socket);
        wait_for_files(&app, &token, 0).await;
        assert_eq!(summary(&app, &token).await, json!({"total_bytes": 0, "file_count": 0}));
        let stored = app.data_dir.join("files");
        let leftover: Vec<_> = walk(&stored);
        assert!(leftover.is_empty(), "no bytes left behind: {leftover:?}");
        // The service is fine afterwards.
        assert_eq!(upload(&app, &token, "ok.txt", b"ok".to_vec()).await.status(), StatusCode::CREATED);
    }
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
        }
    }
    out
}

/// A moto S3 server for one test, stopped when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Option<Moto> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let child = match std::process::Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(_) if std::env::var("CI").is_err() => {
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: moto_server not found (pip install 'moto[server]'): S3 test skipped"
            );
            return None;
        }
        Err(e) => panic!("moto_server is required in CI: {e}"),
    };
    let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if client.put(format!("{}/userd-test", moto.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return Some(moto);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start");
}

async fn s3_round_trip(backend: Backend) {
    let Some(moto) = moto().await else { return };
    let env = [
        ("USERD_STORAGE_URL", "s3://userd-test"),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ];
    let Some(app) = TestApp::spawn_with(backend, &env).await else { return };
    full_round_trip(&app).await;
    // The bytes really are in the bucket, under the user's prefix.
    let listing =
        reqwest::get(format!("{}/userd-test?list-type=2", moto.url)).await.expect("list").text().await.expect("xml");
    assert!(listing.contains("<Key>u1/"), "{listing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_on_s3_compatible_storage_sqlite() {
    s3_round_trip(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_round_trip_on_s3_compatible_storage_postgres() {
    s3_round_trip(Backend::Postgres).await;
}
