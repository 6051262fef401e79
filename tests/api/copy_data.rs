//! `userd copy-data --to URL` end to end: a userd on SQLite populated through the API,
//! copied into a fresh PostgreSQL database, and a userd started there serving the same
//! logins, API tokens, follows, files and pictures.

use std::io::Cursor;

use reqwest::{StatusCode, multipart};
use serde_json::{Value, json};

use crate::{
    cli::userd,
    helpers::{Backend, PASSWORD, TestApp, TestDb, json_of},
};

fn png() -> Vec<u8> {
    let pixels = image::RgbaImage::from_fn(40, 30, |x, y| image::Rgba([(x * 6) as u8, (y * 8) as u8, 90, 255]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(pixels).write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

/// What a user sees of their data: the follows, the files (with their bytes), the picture.
async fn view(app: &TestApp, access: &str, api_token: &str) -> Value {
    let following = json_of(app.get("/careers/users/following/", Some(api_token)).await, StatusCode::OK).await;
    let files = json_of(app.get("/api/files/", Some(access)).await, StatusCode::OK).await;
    let mut contents = Vec::new();
    for f in files["results"].as_array().or(files.as_array()).cloned().unwrap_or_default() {
        let id = f["id"].as_str().expect("id").to_string();
        let res = app.get(&format!("/api/files/{id}/content/"), Some(access)).await;
        assert_eq!(res.status(), StatusCode::OK);
        contents.push(json!(String::from_utf8_lossy(&res.bytes().await.expect("bytes"))));
    }
    let me = json_of(app.get("/api/user/me/", Some(access)).await, StatusCode::OK).await;
    let picture = match me["profile_pic"].as_str() {
        Some(url) => {
            let path =
                url.split_once("/api/user/media/").map(|(_, n)| format!("/api/user/media/{n}")).expect("a media URL");
            let res = app.get(&path, None).await;
            assert_eq!(res.status(), StatusCode::OK);
            json!(res.bytes().await.expect("bytes").len())
        }
        None => Value::Null,
    };
    json!({"following": following, "files": files, "contents": contents, "picture": picture})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_userd_copied_to_postgres_serves_the_same_users_tokens_follows_files_and_pictures() {
    // An empty PostgreSQL database of its own, or the test is skipped (helpers say so).
    let Some(target) = TestDb::new(Backend::Postgres).await else { return };
    let storage = tempfile::tempdir().expect("storage");
    let storage_url = format!("file://{}", storage.path().display());
    let secret = "copy-data-test-secret-key-0123456789abcdef";
    let env = [("USERD_SECRET_KEY", secret), ("USERD_STORAGE_URL", storage_url.as_str())];
    let source = TestApp::spawn_with(Backend::Sqlite, &env).await.expect("SQLite");

    // Populate through the API: users, API tokens, follows, files, a picture.
    let mut users = Vec::new();
    for name in ["alice", "bob", "carol"] {
        let (access, _) = source.register_tokens(&format!("{name}@example.com")).await;
        let body = json_of(source.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await;
        let token = body["access_token"].as_str().expect("token").to_string();
        users.push((name, access, token));
    }
    let mut ids = Vec::new();
    for (_, access, _) in &users {
        let res = source.get("/api/users/profile/", Some(access)).await;
        ids.push(json_of(res, StatusCode::OK).await["data"]["id"].clone());
    }
    for (follower, target_id) in [(0, 1), (0, 2), (1, 2)] {
        let res = source
            .post_json("/careers/users/follow/", &json!({"following": ids[target_id]}), Some(&users[follower].1))
            .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    for (i, (name, access, _)) in users.iter().enumerate() {
        let part = multipart::Part::bytes(format!("{name}'s notes").into_bytes()).file_name(format!("{name}.txt"));
        let res = source
            .client
            .post(source.url("/api/files/"))
            .bearer_auth(access)
            .multipart(multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("upload");
        assert_eq!(res.status(), StatusCode::CREATED, "{name}");
        if i == 0 {
            let form = multipart::Form::new().part("profile_pic", multipart::Part::bytes(png()).file_name("me.png"));
            let res = source
                .client
                .put(source.url("/api/user/update/"))
                .bearer_auth(access)
                .multipart(form)
                .send()
                .await
                .expect("update");
            assert_eq!(res.status(), StatusCode::OK);
        }
    }
    let mut before = Vec::new();
    for (_, access, token) in &users {
        before.push(view(&source, access, token).await);
    }
    assert!(!before[0]["picture"].is_null(), "alice has a picture");

    // Copy while the source is serving: one consistent read.
    let out = userd(&source.data_dir)
        .env("USERD_DATABASE_URL", &source.database_url)
        .env("USERD_SECRET_KEY", secret)
        .args(["copy-data", "--to", &target.url])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "copy-data failed: {stderr}");
    assert!(stderr.contains("users: 3 rows") && stderr.contains("follows: 3 rows"), "{stderr}");
    assert!(stderr.contains("every table's row count matches"), "{stderr}");
    assert!(!stderr.contains("_sqlx_migrations") && !stderr.contains("users_search"), "{stderr}");
    // A second copy is refused: the target is no longer empty.
    let again = userd(&source.data_dir)
        .env("USERD_DATABASE_URL", &source.database_url)
        .env("USERD_SECRET_KEY", secret)
        .args(["copy-data", "--to", &target.url])
        .output()
        .expect("run");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    drop(source);

    let copy = TestApp::spawn_on(target, &env).await;
    for (i, (name, _, token)) in users.iter().enumerate() {
        let res = copy.login(&format!("{name}@example.com"), PASSWORD).await;
        let body = json_of(res, StatusCode::OK).await;
        let access = body["data"]["tokens"]["access"].as_str().expect("access").to_string();
        let profile = json_of(copy.get("/api/users/profile/", Some(token)).await, StatusCode::OK).await;
        assert_eq!(profile["data"]["id"], ids[i], "{name}: the same API token, the same user");
        assert_eq!(view(&copy, &access, token).await, before[i], "{name}: the same follows, files and picture");
    }
    // The sequences moved past the copied ids: new rows get new ids.
    let (access, _) = copy.register_tokens("dave@example.com").await;
    let res = copy.post_json("/careers/users/follow/", &json!({"following": ids[0]}), Some(&access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}
