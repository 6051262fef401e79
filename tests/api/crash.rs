//! Nothing lost, nothing half-written: the real binary is killed with SIGKILL in the middle
//! of a burst of registrations and of an upload, then started again on the same data. Every
//! account exists whole (it can log in) or not at all, the storage summary counts only files
//! stored whole, and what the killed uploads left behind (a pending row, local disk's
//! `<key>#<n>` staging bytes) is cleaned up: at start, by deleting the file through the API,
//! and by the janitor once the pending upload TTL has passed.

use std::{
    path::{Path, PathBuf},
    process::Child,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt as _, net::TcpStream};

use crate::{cli::start_with, files::walk, helpers::*};

/// A running `userd serve`, killed when dropped.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    fn start(db: &TestDb, env: &[(&str, &str)]) -> Node {
        let mut all = vec![("USERD_DATABASE_URL", db.url.as_str())];
        all.extend_from_slice(env);
        let (child, mut urls) = start_with(db.dir.path(), &all, 1);
        Node { child, url: urls.remove(0) }
    }

    /// SIGKILL: no drain, no cleanup, no destructor runs.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The staging files (`<key>#<n>`) under the data directory's file store.
fn staging_files(dir: &Path) -> Vec<PathBuf> {
    walk(&dir.join("files"))
        .into_iter()
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains('#')))
        .collect()
}

/// Starts an upload that declares 10 MiB, sends 6 MiB and then waits, and returns once the
/// node has written the first part (5 MiB) to a staging file. The socket is the upload: it
/// stays open until dropped.
async fn stalled_upload(node: &Node, token: &str, dir: &Path) -> (TcpStream, PathBuf) {
    let addr = node.url.trim_start_matches("http://").to_string();
    let boundary = "CrashBoundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cut.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let request = format!(
        "POST /api/files/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: 10485760\r\n\r\n{head}"
    );
    let mut socket = TcpStream::connect(&addr).await.expect("connect");
    socket.write_all(request.as_bytes()).await.expect("write head");
    socket.write_all(&vec![7u8; 6 * 1024 * 1024]).await.expect("write body");
    socket.flush().await.expect("flush");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let written =
            staging_files(dir).into_iter().find(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= 5 * 1024 * 1024));
        if let Some(path) = written {
            return (socket, path);
        }
        assert!(Instant::now() < deadline, "the upload's first part never reached its staging file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn json(res: reqwest::Response, status: StatusCode) -> Value {
    json_of(res, status).await
}

/// What the registration burst saw.
#[derive(Default)]
struct Burst {
    /// Every address a registration was sent for.
    attempted: Vec<String>,
    /// Those answered 201 before the kill.
    confirmed: Vec<String>,
    /// Anything but 201 or a cut connection: a failure of the test.
    unexpected: Vec<String>,
}

/// Four clients registering one account after another until the node dies.
fn registration_burst(client: &Client, url: &str, burst: &Arc<Mutex<Burst>>) -> Vec<tokio::task::JoinHandle<()>> {
    (0..4)
        .map(|worker| {
            let (client, url, burst) = (client.clone(), url.to_string(), burst.clone());
            tokio::spawn(async move {
                for i in 0..10 {
                    let email = format!("crash-{worker}-{i}@example.com");
                    burst.lock().expect("lock").attempted.push(email.clone());
                    let body = json!({"email": email, "password": PASSWORD, "confirm_password": PASSWORD,
                        "first_name": "Crash", "last_name": "Test"});
                    match client.post(format!("{url}/api/users/register/")).json(&body).send().await {
                        Ok(res) if res.status() == StatusCode::CREATED => {
                            burst.lock().expect("lock").confirmed.push(email);
                        }
                        Ok(res) => burst.lock().expect("lock").unexpected.push(format!("{email}: {}", res.status())),
                        // The node was killed under this request.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

async fn crash_and_recover(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else { return };
    let dir = db.dir.path().to_path_buf();
    let client = Client::new();

    // --- First life: a whole file, then a stalled upload and a burst of registrations. ---
    let node = Node::start(&db, &[]);
    let res = client
        .post(format!("{}/api/users/register/", node.url))
        .json(&json!({"email": "owner@example.com", "password": PASSWORD, "confirm_password": PASSWORD}))
        .send()
        .await
        .expect("register");
    let owner = json(res, StatusCode::CREATED).await;
    let token = owner["data"]["tokens"]["access"].as_str().expect("access").to_string();
    let whole: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let part = reqwest::multipart::Part::bytes(whole.clone()).file_name("whole.bin");
    let res = client
        .post(format!("{}/api/files/", node.url))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("upload");
    let whole_id = json(res, StatusCode::CREATED).await["id"].as_str().expect("id").to_string();

    let (upload_a, staging_a) = stalled_upload(&node, &token, &dir).await;
    let burst = Arc::new(Mutex::new(Burst::default()));
    let workers = registration_burst(&client, &node.url, &burst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while burst.lock().expect("lock").confirmed.len() < 6 {
        assert!(Instant::now() < deadline, "the burst did not get going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    node.kill();
    for w in workers {
        w.await.expect("worker");
    }
    drop(upload_a);
    let burst = Arc::try_unwrap(burst).ok().expect("workers done").into_inner().expect("lock");
    assert!(burst.unexpected.is_empty(), "only 201s before the kill: {:?}", burst.unexpected);
    assert!(burst.attempted.len() > burst.confirmed.len(), "the kill came in the middle of the burst");
    assert!(staging_a.exists(), "SIGKILL left the upload's partial bytes: {}", staging_a.display());

    // While the node is down: staging bytes of an upload whose row is long gone (as a pending
    // row deleted by an earlier version left them), and one of no file at all, fresh.
    let orphan = dir.join("files").join("u999999").join("orphan#1");
    std::fs::create_dir_all(orphan.parent().expect("parent")).expect("mkdir");
    std::fs::write(&orphan, b"half an upload").expect("write");

    // --- Second life: accounts whole or absent, only whole files counted. ---
    let node = Node::start(&db, &[]);
    // A registration writes the user and its first session in one transaction.
    let half = db
        .count(
            "SELECT COUNT(*) FROM users u WHERE u.email LIKE 'crash-%' \
             AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)",
        )
        .await;
    assert_eq!(half, 0, "no account without the session its registration made");
    let stored = db.count("SELECT COUNT(*) FROM users WHERE email LIKE 'crash-%'").await;
    let mut logged_in = 0;
    for email in &burst.attempted {
        let res = client
            .post(format!("{}/api/users/login/", node.url))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        match res.status() {
            StatusCode::OK => logged_in += 1,
            StatusCode::UNAUTHORIZED => {
                assert!(!burst.confirmed.contains(email), "{email} was confirmed with 201, so it must survive")
            }
            other => panic!("{email}: login answered {other}"),
        }
    }
    assert_eq!(logged_in, stored, "every stored account can log in; no other exists");
    assert!(logged_in >= burst.confirmed.len() as i64);

    let summary = json(
        client.get(format!("{}/api/users/storage/", node.url)).bearer_auth(&token).send().await.expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(summary, json!({"total_bytes": 1000, "file_count": 1}), "the cut upload is not counted");
    let list = json(
        client.get(format!("{}/api/files/", node.url)).bearer_auth(&token).send().await.expect("get"),
        StatusCode::OK,
    )
    .await;
    let pending: Vec<&Value> =
        list["results"].as_array().expect("results").iter().filter(|f| f["status"] == "pending").collect();
    assert_eq!(pending.len(), 1, "the cut upload stays pending until the TTL: another node could be writing it");
    let pending_a = pending[0]["id"].as_str().expect("id").to_string();

    // At start, staging bytes no pending upload owns are removed; those of a pending upload
    // younger than the TTL are kept.
    let deadline = Instant::now() + Duration::from_secs(10);
    while orphan.exists() {
        assert!(Instant::now() < deadline, "the orphaned staging file was not removed at start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(staging_a.exists(), "a young pending upload's bytes are kept");

    // Deleting the pending file through the API removes its staging bytes too.
    let res =
        client.delete(format!("{}/api/files/{pending_a}/", node.url)).bearer_auth(&token).send().await.expect("delete");
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!staging_a.exists(), "no partial bytes left behind for good");

    // --- A second kill mid-upload, then a start past the pending upload TTL. ---
    let (upload_b, staging_b) = stalled_upload(&node, &token, &dir).await;
    node.kill();
    drop(upload_b);
    assert!(staging_b.exists());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let node = Node::start(&db, &[("USERD_PENDING_UPLOAD_TTL", "1s")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pending = db.count("SELECT COUNT(*) FROM files WHERE status = 'pending'").await;
        if pending == 0 && staging_files(&dir).is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned upload ({pending} pending rows, {:?}) was not cleaned up",
            staging_files(&dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = json(
        client.get(format!("{}/api/users/storage/", node.url)).bearer_auth(&token).send().await.expect("get"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(summary, json!({"total_bytes": 1000, "file_count": 1}));
    let res = client
        .get(format!("{}/api/files/{whole_id}/content/", node.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.expect("bytes").as_ref(), whole.as_slice(), "the whole file survived both kills");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_and_mid_upload_loses_nothing_and_leaves_nothing_on_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_burst_and_mid_upload_loses_nothing_and_leaves_nothing_on_postgres() {
    crash_and_recover(Backend::Postgres).await;
}
