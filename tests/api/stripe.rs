//! Document 001's Stripe checkout and the contract's Stripe webhook, against a fake Stripe
//! that speaks Stripe's protocol (form-encoded requests, Bearer key, Stripe-shaped JSON).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aws_lc_rs::hmac;
use axum::{
    Form, Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode as AxumStatus, Uri},
    response::{IntoResponse, Response as AxumResponse},
    routing::post,
};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::{both_backends, helpers::*};

const CHECKOUT: &str = "/api/users/stripe/checkout/";
const WEBHOOK: &str = "/api/users/stripe/webhook/";
const SECRET_KEY: &str = "sk_test_x";
const WEBHOOK_SECRET: &str = "whsec_test";
/// Planted in every error the fake returns, to prove none of Stripe's text reaches a client.
const STRIPE_DETAIL: &str = "STRIPE-DETAIL";

// ---- the fake Stripe ----

/// One request Stripe received.
#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    authorization: Option<String>,
    idempotency_key: Option<String>,
    form: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    /// Stripe's error JSON with this status.
    Status(AxumStatus),
    /// A 200 whose body is not JSON.
    Garbage,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    /// Failures still to serve, per path, first in first out.
    failures: Vec<(String, Failure)>,
    /// Answers already given per idempotency key, replayed like Stripe does.
    replies: HashMap<String, Value>,
    customers: u32,
    sessions: u32,
}

#[derive(Clone)]
pub(crate) struct FakeStripe {
    pub(crate) url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeStripe {
    pub(crate) async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/v1/customers", post(stripe_api))
            .route("/v1/checkout/sessions", post(stripe_api))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake Stripe");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeStripe { url, inner }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().expect("lock").requests.clone()
    }

    fn paths(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.path).collect()
    }

    /// The next `times` requests to `path` fail this way.
    fn fail(&self, path: &str, failure: Failure, times: usize) {
        let mut inner = self.inner.lock().expect("lock");
        for _ in 0..times {
            inner.failures.push((path.to_string(), failure));
        }
    }
}

fn stripe_error(status: AxumStatus, kind: &str, message: &str) -> AxumResponse {
    (status, Json(json!({"error": {"type": kind, "message": message}}))).into_response()
}

async fn stripe_api(
    State(inner): State<Arc<Mutex<Inner>>>,
    uri: Uri,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> AxumResponse {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = uri.path().to_string();
    let form: HashMap<String, String> = form.into_iter().collect();
    let mut inner = inner.lock().expect("lock");
    inner.requests.push(Recorded {
        path: path.clone(),
        authorization: header("authorization"),
        idempotency_key: header("idempotency-key"),
        form: form.clone(),
    });
    if header("authorization").as_deref() != Some(&format!("Bearer {SECRET_KEY}")) {
        return stripe_error(AxumStatus::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
    }
    if let Some(i) = inner.failures.iter().position(|(p, _)| *p == path) {
        let (_, failure) = inner.failures.remove(i);
        return match failure {
            Failure::Status(status) => stripe_error(
                status,
                if status.is_server_error() { "api_error" } else { "invalid_request_error" },
                &format!("{STRIPE_DETAIL}: No such price: 'price_pro'"),
            ),
            Failure::Garbage => (AxumStatus::OK, format!("<html>{STRIPE_DETAIL}</html>")).into_response(),
        };
    }
    let key = header("idempotency-key").unwrap_or_default();
    if let Some(reply) = inner.replies.get(&key) {
        return Json(reply.clone()).into_response();
    }
    let reply = if path == "/v1/customers" {
        inner.customers += 1;
        json!({"id": format!("cus_test_{}", inner.customers), "object": "customer", "email": form.get("email"),
               "metadata": {"user_id": form.get("metadata[user_id]")}})
    } else {
        inner.sessions += 1;
        let id = format!("cs_test_{}", inner.sessions);
        json!({"id": id, "object": "checkout.session", "mode": "subscription", "customer": form.get("customer"),
               "url": format!("https://checkout.stripe.com/c/pay/{id}")})
    };
    inner.replies.insert(key, reply.clone());
    Json(reply).into_response()
}

// ---- the app with Stripe configured ----

async fn spawn(backend: Backend, api_url: Option<&str>) -> Option<(TestApp, FakeStripe)> {
    let stripe = FakeStripe::start().await;
    let url = api_url.map_or_else(|| stripe.url.clone(), str::to_string);
    let env = [
        ("USERD_STRIPE_SECRET_KEY", SECRET_KEY),
        ("USERD_STRIPE_PRICES", "pro=price_pro,team=price_team"),
        ("USERD_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("USERD_STRIPE_API_URL", url.as_str()),
    ];
    let app = TestApp::spawn_with(backend, &env).await?;
    Some((app, stripe))
}

/// Like `both_backends!`, with the fake Stripe started first and passed to the body;
/// `api_url = …;` points userd elsewhere instead.
macro_rules! with_stripe {
    (async fn $name:ident($app:ident, $stripe:ident) $(api_url = $url:expr;)? $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn case($app: TestApp, $stripe: FakeStripe) $body
            fn api_url() -> Option<String> {
                None $(.or(Some($url)))?
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (app, stripe) = spawn(Backend::Sqlite, api_url().as_deref()).await.expect("SQLite is always available");
                case(app, stripe).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some((app, stripe)) = spawn(Backend::Postgres, api_url().as_deref()).await {
                    case(app, stripe).await
                }
            }
        }
    };
}

/// Registers a user; returns their access token and external id.
async fn user(app: &TestApp, email: &str) -> (String, String) {
    let (access, _) = app.register_tokens(email).await;
    let me = json_of(app.get("/api/users/me/", Some(&access)).await, StatusCode::OK).await;
    (access, me["external_id"].as_str().expect("external_id").to_string())
}

async fn checkout(app: &TestApp, body: &Value, token: Option<&str>) -> Response {
    app.post_json(CHECKOUT, body, token).await
}

/// `(plan, subscription_status, stripe_customer_id)` of a user, read from the database.
async fn billing_of(app: &TestApp, email: &str) -> (Option<String>, Option<String>, Option<String>) {
    const SQL: &str = "SELECT plan, subscription_status, stripe_customer_id FROM users WHERE email_key = $1";
    if app.database_url.starts_with("sqlite:") {
        let mut db = SqliteConnection::connect(&app.database_url).await.expect("open SQLite");
        sqlx::query_as(SQL).bind(email).fetch_one(&mut db).await.expect("user row")
    } else {
        let mut db = PgConnection::connect(&app.database_url).await.expect("open PostgreSQL");
        sqlx::query_as(SQL).bind(email).fetch_one(&mut db).await.expect("user row")
    }
}

async fn recorded_events(app: &TestApp) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM stripe_events";
    if app.database_url.starts_with("sqlite:") {
        let mut db = SqliteConnection::connect(&app.database_url).await.expect("open SQLite");
        sqlx::query_scalar(SQL).fetch_one(&mut db).await.expect("count")
    } else {
        let mut db = PgConnection::connect(&app.database_url).await.expect("open PostgreSQL");
        sqlx::query_scalar(SQL).fetch_one(&mut db).await.expect("count")
    }
}

fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

// ---- webhook deliveries ----

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// A `Stripe-Signature` header as Stripe computes it.
fn signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    format!("t={t},v1={}", hex::encode(hmac::sign(&key, format!("{t}.{body}").as_bytes()).as_ref()))
}

async fn deliver_raw(app: &TestApp, body: &str, signature: Option<String>) -> Response {
    let mut req = app
        .client
        .post(app.url(WEBHOOK))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    req.send().await.expect("request")
}

/// Delivers an event signed with the configured secret and expects it acknowledged.
async fn deliver(app: &TestApp, event: &Value) {
    let body = event.to_string();
    let res = deliver_raw(app, &body, Some(signature(WEBHOOK_SECRET, now(), &body))).await;
    assert_eq!(json_of(res, StatusCode::OK).await, json!({"received": true}), "{}", event["type"]);
}

fn event(id: &str, kind: &str, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": now(), "livemode": false,
           "pending_webhooks": 1, "type": kind, "data": {"object": object}})
}

fn checkout_completed(id: &str, external_id: Option<&str>, customer: &str, plan: &str) -> Value {
    event(
        id,
        "checkout.session.completed",
        json!({"id": "cs_test_1", "object": "checkout.session", "mode": "subscription",
               "client_reference_id": external_id, "customer": customer, "subscription": "sub_1",
               "metadata": {"plan": plan, "user_id": external_id}, "payment_status": "paid", "status": "complete"}),
    )
}

fn subscription(id: &str, kind: &str, customer: &str, status: &str, price: &str) -> Value {
    event(
        id,
        &format!("customer.subscription.{kind}"),
        json!({"id": "sub_1", "object": "subscription", "customer": customer, "status": status,
               "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item",
                         "price": {"id": price, "object": "price"}, "quantity": 1}]}}),
    )
}

// ---- checkout ----

with_stripe! {
    async fn checkout_creates_the_customer_once_and_a_subscription_session_each_time(app, stripe) {
        let (access, external_id) = user(&app, "buyer@example.com").await;

        let body = json_of(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await, StatusCode::OK).await;
        // `url` is Stripe's checkout page, where the web app sends the browser.
        assert_eq!(body, json!({"message": "ok", "session_id": "cs_test_1", "url": "https://checkout.stripe.com/c/pay/cs_test_1"}));
        let body = json_of(checkout(&app, &json!({"plan": "team"}), Some(&access)).await, StatusCode::OK).await;
        assert_eq!(body, json!({"message": "ok", "session_id": "cs_test_2", "url": "https://checkout.stripe.com/c/pay/cs_test_2"}));

        assert_eq!(stripe.paths(), ["/v1/customers", "/v1/checkout/sessions", "/v1/checkout/sessions"], "one customer");
        let requests = stripe.requests();
        for r in &requests {
            assert_eq!(r.authorization.as_deref(), Some("Bearer sk_test_x"), "{}", r.path);
        }
        let customer = &requests[0];
        assert_eq!(customer.idempotency_key, Some(format!("customer-{external_id}")));
        assert_eq!(
            customer.form,
            HashMap::from([("email".into(), "buyer@example.com".into()), ("metadata[user_id]".into(), external_id.clone())])
        );
        let settings = format!("{}/settings", app.address);
        let session_form = |plan: &str, price: &str| -> HashMap<String, String> {
            [
                ("mode", "subscription"),
                ("customer", "cus_test_1"),
                ("client_reference_id", external_id.as_str()),
                ("line_items[0][price]", price),
                ("line_items[0][quantity]", "1"),
                ("success_url", settings.as_str()),
                ("cancel_url", settings.as_str()),
                ("metadata[plan]", plan),
                ("metadata[user_id]", external_id.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        assert_eq!(requests[1].form, session_form("pro", "price_pro"));
        assert_eq!(requests[2].form, session_form("team", "price_team"), "the stored customer is reused");
        let keys: Vec<String> = requests[1..].iter().map(|r| r.idempotency_key.clone().expect("Idempotency-Key")).collect();
        assert!(keys.iter().all(|k| k.starts_with("checkout-")), "{keys:?}");
        assert_ne!(keys[0], keys[1], "each checkout is its own request");

        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, None, some("cus_test_1")), "a checkout alone grants no plan");
    }
}

with_stripe! {
    async fn checkout_refuses_a_missing_or_unknown_plan_without_calling_stripe(app, stripe) {
        let (access, _) = user(&app, "buyer@example.com").await;
        // (body, message under errors.plan, why)
        let cases = [
            (json!({"plan": "gold"}), "\"gold\" is not a valid choice.", "not a configured plan"),
            (json!({"plan": "PRO"}), "\"PRO\" is not a valid choice.", "plan names are exact"),
            (json!({}), "This field is required.", "missing"),
            (json!({"plan": ""}), "This field may not be blank.", "blank"),
            (json!({"plan": null}), "This field may not be null.", "null"),
            (json!({"plan": ["pro"]}), "Not a valid string.", "not a string"),
        ];
        for (body, message, why) in cases {
            let out = json_of(checkout(&app, &body, Some(&access)).await, StatusCode::BAD_REQUEST).await;
            assert_eq!(out, json!({"message": "Unexpected error", "errors": {"plan": [message]}}), "{why}");
        }
        assert!(stripe.requests().is_empty(), "nothing was sent to Stripe");
    }
}

with_stripe! {
    async fn a_stripe_failure_answers_unexpected_error_without_stripes_text(app, stripe) {
        // (path that fails, how, why)
        let cases = [
            ("/v1/customers", Failure::Status(AxumStatus::BAD_REQUEST), "customer refused"),
            ("/v1/checkout/sessions", Failure::Status(AxumStatus::BAD_REQUEST), "session refused"),
            ("/v1/checkout/sessions", Failure::Status(AxumStatus::PAYMENT_REQUIRED), "card error status"),
            ("/v1/customers", Failure::Garbage, "customer answer not JSON"),
            ("/v1/checkout/sessions", Failure::Garbage, "session answer not JSON"),
        ];
        for (i, (path, failure, why)) in cases.into_iter().enumerate() {
            let email = format!("buyer{i}@example.com");
            let (access, _) = user(&app, &email).await;
            stripe.fail(path, failure, 1);
            let res = checkout(&app, &json!({"plan": "pro"}), Some(&access)).await;
            let text = res.text().await.expect("body");
            assert!(!text.contains(STRIPE_DETAIL), "{why}: {text}");
            assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(json!({"message": "Unexpected error"})), "{why}");
            let stored = billing_of(&app, &email).await.2;
            assert_eq!(stored.is_some(), path != "/v1/customers", "{why}: the customer is stored only once created");
        }
        // Once Stripe recovers, the customer whose creation failed is created with the same key.
        let (access, external_id) = user(&app, "late@example.com").await;
        stripe.fail("/v1/customers", Failure::Status(AxumStatus::BAD_REQUEST), 1);
        assert_eq!(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await.status(), StatusCode::BAD_REQUEST);
        assert_eq!(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await.status(), StatusCode::OK);
        let keys: Vec<_> = stripe.requests().into_iter().filter(|r| r.form.get("metadata[user_id]") == Some(&external_id) && r.path == "/v1/customers").map(|r| r.idempotency_key).collect();
        assert_eq!(keys, [some(&format!("customer-{external_id}")), some(&format!("customer-{external_id}"))]);
    }
}

with_stripe! {
    async fn a_transient_stripe_error_is_retried_once_with_the_same_idempotency_key(app, stripe) {
        let (access, _) = user(&app, "buyer@example.com").await;
        stripe.fail("/v1/checkout/sessions", Failure::Status(AxumStatus::INTERNAL_SERVER_ERROR), 1);
        let body = json_of(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await, StatusCode::OK).await;
        assert_eq!(body["session_id"], "cs_test_1");
        let sessions: Vec<_> = stripe.requests().into_iter().filter(|r| r.path == "/v1/checkout/sessions").collect();
        assert_eq!(sessions.len(), 2, "retried once");
        assert_eq!(sessions[0].idempotency_key, sessions[1].idempotency_key);

        stripe.fail("/v1/checkout/sessions", Failure::Status(AxumStatus::SERVICE_UNAVAILABLE), 2);
        let body = json_of(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"message": "Unexpected error"}), "no third attempt");
        assert_eq!(stripe.paths().len(), 5);
    }
}

with_stripe! {
    async fn checkout_answers_unexpected_error_when_stripe_is_unreachable(app, stripe)
    api_url = {
        // A port that was free a moment ago: connections are refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    {
        let (access, _) = user(&app, "buyer@example.com").await;
        let body = json_of(checkout(&app, &json!({"plan": "pro"}), Some(&access)).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(body, json!({"message": "Unexpected error"}));
        assert!(stripe.requests().is_empty());
        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, None, None));
    }
}

with_stripe! {
    async fn checkout_without_valid_credentials_is_unauthorized(app, stripe) {
        let res = checkout(&app, &json!({"plan": "pro"}), None).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Unauthorized"}));
        let res = checkout(&app, &json!({"plan": "pro"}), Some("not-a-token")).await;
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Unauthorized"}));
        let res = app.client.post(app.url(CHECKOUT)).body("{").send().await.expect("request");
        assert_eq!(json_of(res, StatusCode::UNAUTHORIZED).await, json!({"message": "Unauthorized"}), "credentials come first");
        assert!(stripe.requests().is_empty());
    }
}

both_backends! {
    async fn checkout_and_webhook_answer_400_while_stripe_is_not_configured(app)
    env = [("USERD_STRIPE_PRICES", "pro=price_pro")];
    {
        let (access, _) = user(&app, "buyer@example.com").await;
        let res = checkout(&app, &json!({"plan": "pro"}), Some(&access)).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"message": "Unexpected error"}));

        let body = subscription("evt_1", "deleted", "cus_1", "canceled", "price_pro").to_string();
        let res = deliver_raw(&app, &body, Some(signature(WEBHOOK_SECRET, now(), &body))).await;
        let out = json_of(res, StatusCode::BAD_REQUEST).await;
        assert_eq!(out, json!({"message": "The Stripe webhook is not configured."}));
    }
}

// ---- webhook ----

with_stripe! {
    async fn webhook_events_set_and_clear_the_plan_and_status(app, _stripe) {
        let (_, external_id) = user(&app, "buyer@example.com").await;
        let email = "buyer@example.com";
        assert_eq!(billing_of(&app, email).await, (None, None, None));

        deliver(&app, &checkout_completed("evt_1", Some(&external_id), "cus_A", "pro")).await;
        assert_eq!(billing_of(&app, email).await, (some("pro"), some("active"), some("cus_A")), "checkout completed");

        deliver(&app, &subscription("evt_2", "updated", "cus_A", "past_due", "price_team")).await;
        assert_eq!(billing_of(&app, email).await, (some("team"), some("past_due"), some("cus_A")), "plan changed");

        deliver(&app, &subscription("evt_3", "updated", "cus_A", "active", "price_legacy")).await;
        assert_eq!(billing_of(&app, email).await, (some("team"), some("active"), some("cus_A")), "unmapped price keeps the plan");

        deliver(&app, &subscription("evt_4", "deleted", "cus_A", "canceled", "price_team")).await;
        assert_eq!(billing_of(&app, email).await, (None, some("canceled"), some("cus_A")), "subscription ended");

        deliver(&app, &subscription("evt_5", "created", "cus_A", "trialing", "price_pro")).await;
        assert_eq!(billing_of(&app, email).await, (some("pro"), some("trialing"), some("cus_A")), "subscription created");
        assert_eq!(recorded_events(&app).await, 5);
    }
}

with_stripe! {
    async fn a_completed_checkout_without_reference_finds_the_user_by_customer(app, _stripe) {
        let (access, _) = user(&app, "buyer@example.com").await;
        assert_eq!(checkout(&app, &json!({"plan": "team"}), Some(&access)).await.status(), StatusCode::OK);
        deliver(&app, &checkout_completed("evt_1", None, "cus_test_1", "team")).await;
        assert_eq!(billing_of(&app, "buyer@example.com").await, (some("team"), some("active"), some("cus_test_1")));
    }
}

with_stripe! {
    async fn a_redelivered_event_is_applied_once(app, _stripe) {
        let (_, external_id) = user(&app, "buyer@example.com").await;
        let completed = checkout_completed("evt_1", Some(&external_id), "cus_A", "pro");
        deliver(&app, &completed).await;
        deliver(&app, &subscription("evt_2", "deleted", "cus_A", "canceled", "price_pro")).await;
        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, some("canceled"), some("cus_A")));

        // Stripe delivers at least once, and not in order: the old event must not restore the plan.
        deliver(&app, &completed).await;
        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, some("canceled"), some("cus_A")));
        assert_eq!(recorded_events(&app).await, 2);
    }
}

with_stripe! {
    async fn webhook_refuses_a_missing_wrong_or_stale_signature_and_changes_nothing(app, _stripe) {
        let (_, external_id) = user(&app, "buyer@example.com").await;
        let body = checkout_completed("evt_1", Some(&external_id), "cus_A", "pro").to_string();
        let t = now();
        // (Stripe-Signature, why)
        let cases = [
            (None, "no header"),
            (some(""), "empty header"),
            (some("garbage"), "not Stripe's format"),
            (some(&format!("t={t}")), "no v1 signature"),
            (Some(signature("whsec_other", t, &body)), "another endpoint's secret"),
            (Some(signature(WEBHOOK_SECRET, t, "{}")), "signature of another body"),
            (Some(signature(WEBHOOK_SECRET, t - 301, &body)), "older than 300 s"),
            (Some(signature(WEBHOOK_SECRET, t + 301, &body)), "more than 300 s ahead"),
            (Some(signature(WEBHOOK_SECRET, t, &body).replace(&format!("t={t}"), &format!("t={}", t - 1))), "timestamp changed"),
            (Some(signature(WEBHOOK_SECRET, t, &body).replace("v1=", "v0=")), "only a v0 signature"),
        ];
        for (header, why) in cases {
            let res = deliver_raw(&app, &body, header).await;
            assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await, json!({"message": "Invalid signature"}), "{why}");
        }
        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, None, None));
        assert_eq!(recorded_events(&app).await, 0, "nothing was recorded");

        // The same body, correctly signed (next to a stale secret's signature, as while rolling secrets), is applied.
        let header = format!("{},v1={}", signature(WEBHOOK_SECRET, t, &body), "ab".repeat(32));
        let res = deliver_raw(&app, &body, Some(header)).await;
        assert_eq!(json_of(res, StatusCode::OK).await, json!({"received": true}));
        assert_eq!(billing_of(&app, "buyer@example.com").await, (some("pro"), some("active"), some("cus_A")));
    }
}

with_stripe! {
    async fn webhook_acknowledges_events_it_cannot_apply(app, _stripe) {
        user(&app, "buyer@example.com").await;
        deliver(&app, &subscription("evt_1", "updated", "cus_nobody", "active", "price_pro")).await;
        deliver(&app, &checkout_completed("evt_2", Some("no-such-user"), "cus_nobody", "pro")).await;
        deliver(&app, &event("evt_3", "invoice.paid", json!({"id": "in_1", "object": "invoice", "customer": "cus_nobody"}))).await;
        assert_eq!(billing_of(&app, "buyer@example.com").await, (None, None, None), "nobody else changed");
        assert_eq!(recorded_events(&app).await, 3, "each recorded, so a redelivery is skipped too");

        let body = "not an event";
        let res = deliver_raw(&app, body, Some(signature(WEBHOOK_SECRET, now(), body))).await;
        assert_eq!(json_of(res, StatusCode::BAD_REQUEST).await["message"], "Invalid payload");
    }
}

both_backends! {
    async fn openapi_describes_checkout_and_the_webhook(app) {
        let doc = json_of(app.get("/api/openapi.json", None).await, StatusCode::OK).await;
        let checkout = &doc["paths"]["/api/users/stripe/checkout/"]["post"];
        assert!(checkout["requestBody"].is_object(), "{checkout}");
        for status in ["200", "400", "401"] {
            assert!(checkout["responses"][status].is_object(), "checkout documents {status}");
        }
        let webhook = &doc["paths"]["/api/users/stripe/webhook/"]["post"];
        assert_eq!(webhook["parameters"][0]["name"], "Stripe-Signature");
        for status in ["200", "400"] {
            assert!(webhook["responses"][status].is_object(), "webhook documents {status}");
        }
        for schema in ["CheckoutRequest", "CheckoutResponse", "WebhookResponse"] {
            assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
        }
    }
}
