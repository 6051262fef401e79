//! The operational endpoints of the contract: health, readiness, metrics, keys, OpenAPI.

use reqwest::StatusCode;
use serde_json::json;

use crate::{both_backends, helpers::*};

both_backends! {
    async fn liveness_and_readiness_answer(app) {
        assert_eq!(json_of(app.get("/healthz", None).await, StatusCode::OK).await, json!({"status": "ok"}));
        assert_eq!(json_of(app.get("/readyz", None).await, StatusCode::OK).await, json!({"status": "ok"}));
    }
}

/// The value of the `http_requests_total` series whose labels include all of `labels`.
fn requests_counted(metrics: &str, labels: &[&str]) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{") && labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

both_backends! {
    async fn metrics_count_this_instances_requests_by_route(app) {
        for _ in 0..3 {
            app.get("/api/users/status/", None).await;
        }
        let res = app.get("/metrics", None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.expect("text");
        // Exactly three: each application instance counts only its own requests, so no
        // other test running in this process can make this pass or fail.
        let counted = requests_counted(&text, &["method=\"GET\"", "path=\"/api/users/status/\"", "status=\"200\""]);
        assert_eq!(counted, 3, "{text}");
    }
}

both_backends! {
    async fn made_up_methods_share_one_metrics_label(app) {
        for i in 0..20 {
            let method = reqwest::Method::from_bytes(format!("ZZTEST{i}").as_bytes()).expect("method");
            app.client.request(method, app.url("/healthz")).send().await.expect("send");
        }
        let text = app.get("/metrics", None).await.text().await.expect("text");
        assert!(!text.contains("ZZTEST"), "methods are a closed set of label values");
        assert_eq!(requests_counted(&text, &["method=\"other\"", "path=\"/healthz\""]), 20, "{text}");
    }
}

both_backends! {
    async fn jwks_publishes_the_key_that_signs_access_tokens(app) {
        let (access, _) = app.register_tokens("user@example.com").await;
        let header = access.split('.').next().expect("header");
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).expect("b64"),
        )
        .expect("json");
        assert_eq!(header["alg"], "EdDSA");
        let jwks = json_of(app.get("/.well-known/jwks.json", None).await, StatusCode::OK).await;
        let keys = jwks["keys"].as_array().expect("keys");
        let key = keys.iter().find(|k| k["kid"] == header["kid"]).expect("signing key is published");
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert!(key.get("d").is_none(), "no private part");
    }
}

both_backends! {
    async fn openapi_describes_every_route_and_the_docs_page_works_offline(app) {
        let doc = json_of(app.get("/api/openapi.json", None).await, StatusCode::OK).await;
        assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"));
        let paths = doc["paths"].as_object().expect("paths");
        for p in [
            "/api/users/status/", "/api/users/register/", "/api/users/login/", "/api/users/logout/",
            "/api/users/refresh-token/", "/api/users/profile/", "/healthz", "/readyz", "/metrics", "/.well-known/jwks.json",
            "/api/users/me/", "/api/users/me/token/", "/api/users/me/token/regenerate/", "/api/users/storage/",
            "/api/users/settings/", "/api/users/session/", "/api/users/stripe/checkout/", "/api/users/stripe/webhook/",
            "/api/files/", "/api/files/{id}/", "/api/files/{id}/content/",
        ] {
            assert!(paths.contains_key(p), "{p} is described");
        }
        let register = &doc["paths"]["/api/users/register/"]["post"];
        assert!(register["requestBody"].is_object());
        assert!(register["responses"]["201"].is_object());

        let page = app.get("/api/docs/", None).await;
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.expect("html");
        assert!(html.contains("swagger-ui"), "docs page");
        assert!(!html.contains("https://"), "no asset is fetched from the internet");
        let css = app.get("/api/docs/swagger-ui.css", None).await;
        assert_eq!(css.status(), StatusCode::OK, "assets are served by userd itself");
    }
}

both_backends! {
    async fn unknown_routes_and_methods_answer_in_the_shape_of_the_surface(app) {
        // `/api/users/` is document 002's prefix (shared with 000/001): its envelope.
        let res = app.get("/api/users/nope/", None).await;
        assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, json!({"status": "failed", "message": "Not found."}));
        let res = app.get("/api/users/login/", None).await;
        assert_eq!(res.headers()["allow"], "POST, OPTIONS");
        let body = json_of(res, StatusCode::METHOD_NOT_ALLOWED).await;
        assert_eq!(body, json!({"status": "failed", "message": "Method \"GET\" not allowed."}));
        // `/api/files/` speaks documents 000/001's `{"message"}`.
        let res = app.get("/api/files/a/b/c/", None).await;
        assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, json!({"message": "Not found."}));
        let res = app.client.put(app.url("/api/files/abc/")).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::METHOD_NOT_ALLOWED).await, json!({"message": "Method \"PUT\" not allowed."}));
        // Elsewhere under `/api/` and for the operational endpoints: DRF's `{"detail"}`.
        let res = app.get("/api/nothing/", None).await;
        assert_eq!(json_of(res, StatusCode::NOT_FOUND).await, json!({"detail": "Not found."}));
        let res = app.client.post(app.url("/healthz")).send().await.expect("send");
        assert_eq!(json_of(res, StatusCode::METHOD_NOT_ALLOWED).await, json!({"detail": "Method \"POST\" not allowed."}));
        // Outside the API the path is the web app's: its page, with its "not found" and a 404.
        let res = app.get("/no/such/page", None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    }
}

both_backends! {
    async fn every_response_carries_a_request_id(app) {
        let res = app.get("/healthz", None).await;
        assert!(!res.headers()["x-request-id"].is_empty());
        let res = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.expect("send");
        assert_eq!(res.headers()["x-request-id"], "abc-123");
        // Anything but a short plain id is replaced, so it cannot pad or forge log lines.
        for sent in ["a".repeat(65), "abc 123".to_string(), "abc\"} {\"level\":\"ERROR".to_string()] {
            let res = app.client.get(app.url("/healthz")).header("x-request-id", &sent).send().await.expect("send");
            let got = res.headers()["x-request-id"].to_str().expect("ascii").to_string();
            assert!(got != sent && got.len() == 36, "{sent:?} became {got:?}");
        }
    }
}

both_backends! {
    async fn cors_admits_only_the_configured_origins(app)
    env = [("USERD_CORS_ORIGINS", "https://app.example.com")];
    {
        let preflight = |origin: &'static str| {
            app.client
                .request(reqwest::Method::OPTIONS, app.url("/api/users/login/"))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type")
                .send()
        };
        let ok = preflight("https://app.example.com").await.expect("send");
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
        let other = preflight("https://evil.example.com").await.expect("send");
        assert!(other.headers().get("access-control-allow-origin").is_none());
    }
}

both_backends! {
    async fn without_cors_origins_no_cross_origin_access_is_granted(app) {
        let res = app.client.get(app.url("/api/users/status/")).header("origin", "https://app.example.com").send().await.expect("send");
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
}

fn claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).expect("b64"),
    )
    .expect("json")
}

both_backends! {
    async fn tokens_live_60_minutes_and_7_days_by_default(app) {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let (a, r) = (claims(&access), claims(&refresh));
        assert_eq!(a["exp"].as_i64().expect("exp") - a["iat"].as_i64().expect("iat"), 3600);
        assert_eq!(r["exp"].as_i64().expect("exp") - r["iat"].as_i64().expect("iat"), 7 * 86400);
        assert_eq!(a["token_type"], "access");
        assert_eq!(r["token_type"], "refresh");
        assert_eq!(a["sid"], r["sid"], "both belong to one login session");
        assert_eq!(a["user_id"], a["sub"].as_str().expect("sub").parse::<i64>().expect("number"));
    }
}

both_backends! {
    async fn token_lifetimes_follow_the_settings(app)
    env = [("USERD_ACCESS_TTL", "15m"), ("USERD_REFRESH_TTL", "2d")];
    {
        let (access, refresh) = app.register_tokens("user@example.com").await;
        let (a, r) = (claims(&access), claims(&refresh));
        assert_eq!(a["exp"].as_i64().expect("exp") - a["iat"].as_i64().expect("iat"), 900);
        assert_eq!(r["exp"].as_i64().expect("exp") - r["iat"].as_i64().expect("iat"), 2 * 86400);
    }
}
