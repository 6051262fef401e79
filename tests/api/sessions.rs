//! Several nodes on one database: tokens, logouts and password changes hold on all of them.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

const SECRET: &str = "a-shared-secret-of-at-least-thirty-two-chars";

async fn node(backend: Backend, database_url: Option<&str>) -> Option<TestApp> {
    match database_url {
        None => TestApp::spawn_with(backend, &[("USERD_SECRET_KEY", SECRET)]).await,
        Some(url) => TestApp::spawn_with(backend, &[("USERD_SECRET_KEY", SECRET), ("USERD_DATABASE_URL", url)]).await,
    }
}

/// Two nodes on one PostgreSQL database (the second is pointed at the first's URL);
/// `None` where PostgreSQL is not available.
async fn two_nodes_on_postgres() -> Option<(TestApp, TestApp)> {
    let a = node(Backend::Postgres, None).await?;
    let b =
        TestApp::spawn_with(Backend::Sqlite, &[("USERD_SECRET_KEY", SECRET), ("USERD_DATABASE_URL", &a.database_url)])
            .await
            .expect("second node");
    Some((a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_holds_on_every_node_at_once() {
    let Some((a, b)) = two_nodes_on_postgres().await else {
        return;
    };
    let (access, refresh) = a.register_tokens("user@example.com").await;
    // Node B verifies node A's token, and caches the live session.
    assert_eq!(b.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
    assert_eq!(b.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);

    let res = a.post_json("/api/users/logout/", &json!({"refresh": refresh}), Some(&access)).await;
    assert_eq!(res.status(), StatusCode::OK);

    // The notification travels asynchronously; it arrives within milliseconds.
    let mut refused = false;
    for _ in 0..50 {
        if b.get("/api/users/profile/", Some(&access)).await.status() == StatusCode::UNAUTHORIZED {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "node B stopped accepting the access token of the ended login");
    let res = b.post_json("/api/users/refresh-token/", &json!({"refresh": refresh}), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_sqlite_file_share_users_and_keys() {
    let a = node(Backend::Sqlite, None).await.expect("node a");
    let b = node(Backend::Sqlite, Some(&a.database_url)).await.expect("node b");
    let (access, _) = a.register_tokens("user@example.com").await;
    assert_eq!(b.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
    assert_eq!(b.login("user@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_a_different_secret_key_refuses_to_start() {
    let a = node(Backend::Sqlite, None).await.expect("node a");
    let vars = std::collections::HashMap::from([
        ("USERD_BIND".to_string(), "127.0.0.1:0".to_string()),
        ("USERD_DATA_DIR".to_string(), a.data_dir.display().to_string()),
        ("USERD_DATABASE_URL".to_string(), a.database_url.clone()),
        ("USERD_SECRET_KEY".to_string(), "a-different-secret-of-thirty-two-characters".to_string()),
    ]);
    let config = userd::config::Config::from_lookup(|k| vars.get(k).cloned()).expect("config");
    let err = userd::Application::build(config).await.err().expect("start refused");
    assert!(format!("{err:#}").contains("USERD_SECRET_KEY"), "{err:#}");
}

/// Node B caches the user and the owner of the API token as it serves them; a profile
/// change, a regenerated token and a direct change in the database reach it through the
/// notification feed (asynchronously, within milliseconds), and node A's own changes hold
/// on A at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_users_and_api_tokens_follow_changes_made_on_another_node() {
    let Some((a, b)) = two_nodes_on_postgres().await else {
        return;
    };
    let (access, _) = a.register_tokens("user@example.com").await;
    let api_token = json_of(a.get("/api/users/me/token/", Some(&access)).await, StatusCode::OK).await["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    for _ in 0..2 {
        assert_eq!(b.get("/api/users/profile/", Some(&access)).await.status(), StatusCode::OK);
        assert_eq!(b.get("/api/users/me/", Some(&api_token)).await.status(), StatusCode::OK);
    }

    // A profile change on A: at once on A, and on B once it hears.
    let res = a
        .client
        .patch(a.url("/careers/users/me/update/"))
        .bearer_auth(&access)
        .json(&json!({"first_name": "Renamed"}))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::OK);
    let first_name = |v: serde_json::Value| v["data"]["first_name"].as_str().map(str::to_string);
    let on_a = json_of(a.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
    assert_eq!(first_name(on_a), Some("Renamed".into()));
    let mut seen = false;
    for _ in 0..100 {
        let on_b = json_of(b.get("/api/users/profile/", Some(&access)).await, StatusCode::OK).await;
        if first_name(on_b).as_deref() == Some("Renamed") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen, "node B shows the new name");

    // A regenerated API token on A: the old one stops on A at once, and on B.
    let res = a.post_json("/api/users/me/token/regenerate/", &json!({}), Some(&access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(a.get("/api/users/me/", Some(&api_token)).await.status(), StatusCode::UNAUTHORIZED);
    b.until_status("/api/users/me/", Some(&api_token), StatusCode::UNAUTHORIZED).await;

    // A deactivation made straight in the database reaches both nodes.
    a.db.execute("UPDATE users SET is_active = FALSE").await;
    a.until_status("/api/users/profile/", Some(&access), StatusCode::UNAUTHORIZED).await;
    b.until_status("/api/users/profile/", Some(&access), StatusCode::UNAUTHORIZED).await;
}
