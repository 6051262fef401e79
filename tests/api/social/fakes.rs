//! Local servers that speak Google's key endpoint (a JWK set with real RSA keys made here,
//! and tokens signed with them) and GitHub's OAuth and REST protocols.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use aws_lc_rs::{
    hmac,
    rand::SystemRandom,
    rsa::{KeyPair, KeySize},
    signature::{self, KeyPair as _},
};
use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub const GOOGLE_CLIENT_ID: &str = "1234-userd-test.apps.googleusercontent.com";
pub const GITHUB_CLIENT_ID: &str = "Iv1.userdtest";
pub const GITHUB_CLIENT_SECRET: &str = "github-test-secret";

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a fake provider");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An RSA key as Google has them: a `kid`, the private half to sign with, the public half
/// published as a JWK.
pub struct SigningKey {
    pub kid: String,
    pair: KeyPair,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        SigningKey { kid: kid.into(), pair }
    }

    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The public modulus as bytes (the "secret" of an HS256 key-confusion forgery).
    pub fn modulus(&self) -> Vec<u8> {
        self.pair.public_key().modulus().big_endian_without_leading_zero().to_vec()
    }

    /// A JWS of `claims` with `header`, signed RS256 with this key whatever the header says.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).expect("sign");
        format!("{input}.{}", b64(&sig))
    }

    /// A Google-shaped ID token: RS256 with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": "RS256", "kid": self.kid, "typ": "JWT"}), claims)
    }
}

/// A token signed with HMAC-SHA256 under `secret`, claiming `kid`.
pub fn hs256_token(kid: &str, secret: &[u8], claims: &Value) -> String {
    let header = json!({"alg": "HS256", "kid": kid, "typ": "JWT"});
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// An unsigned token (`alg: none`).
pub fn unsigned_token(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "kid": kid, "typ": "JWT"});
    format!("{}.{}.", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The claims of a valid ID token for `sub` with a verified `email`.
pub fn google_claims(sub: &str, email: &str) -> Value {
    json!({
        "iss": "https://accounts.google.com", "azp": GOOGLE_CLIENT_ID, "aud": GOOGLE_CLIENT_ID,
        "sub": sub, "email": email, "email_verified": true, "name": "Ada Lovelace",
        "given_name": "Ada", "family_name": "Lovelace", "iat": now(), "exp": now() + 3600,
    })
}

#[derive(Default)]
struct GoogleInner {
    keys: Vec<Value>,
    fetches: usize,
    /// Answer 503 instead of the keys.
    down: bool,
    max_age: u64,
}

/// Google's key endpoint (`/oauth2/v3/certs`), counting how often it is asked.
#[derive(Clone)]
pub struct FakeGoogle {
    pub jwks_url: String,
    /// The key published from the start.
    pub key: Arc<SigningKey>,
    inner: Arc<Mutex<GoogleInner>>,
}

async fn certs(State(inner): State<Arc<Mutex<GoogleInner>>>) -> Response {
    let mut inner = inner.lock().expect("lock");
    inner.fetches += 1;
    if inner.down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let cache = format!("public, max-age={}, must-revalidate, no-transform", inner.max_age);
    let mut res = Json(json!({"keys": inner.keys})).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_str(&cache).expect("header"));
    res
}

impl FakeGoogle {
    pub async fn start() -> Self {
        let key = Arc::new(SigningKey::generate("google-key-1"));
        let inner = Arc::new(Mutex::new(GoogleInner { keys: vec![key.jwk()], max_age: 3600, ..Default::default() }));
        let url = serve(Router::new().route("/oauth2/v3/certs", get(certs)).with_state(inner.clone())).await;
        FakeGoogle { jwks_url: format!("{url}/oauth2/v3/certs"), key, inner }
    }

    /// How often the key set was asked for.
    pub fn fetches(&self) -> usize {
        self.inner.lock().expect("lock").fetches
    }

    pub fn publish(&self, key: &SigningKey) {
        self.inner.lock().expect("lock").keys.push(key.jwk());
    }

    pub fn set_down(&self, down: bool) {
        self.inner.lock().expect("lock").down = down;
    }

    pub fn set_max_age(&self, secs: u64) {
        self.inner.lock().expect("lock").max_age = secs;
    }

    /// A valid ID token for `sub` and `email`.
    pub fn token(&self, sub: &str, email: &str) -> String {
        self.key.sign(&google_claims(sub, email))
    }
}

/// A GitHub user and their e-mail addresses `(email, primary, verified)`.
#[derive(Clone)]
pub struct Person {
    pub id: u64,
    pub login: String,
    pub name: Option<String>,
    pub emails: Vec<(String, bool, bool)>,
}

impl Person {
    pub fn new(id: u64, name: Option<&str>, emails: &[(&str, bool, bool)]) -> Self {
        Person {
            id,
            login: format!("user{id}"),
            name: name.map(str::to_string),
            emails: emails.iter().map(|(e, p, v)| (e.to_string(), *p, *v)).collect(),
        }
    }
}

/// How GitHub misbehaves on the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitHubFailure {
    /// The token endpoint answers 502.
    ExchangeDown,
    /// The token endpoint answers 200 with HTML.
    ExchangeGarbage,
    /// `/user/emails` answers 403 (the token lacks the `user:email` scope).
    EmailsForbidden,
}

#[derive(Default)]
struct GitHubInner {
    /// Who "signs in" on the authorize page (a browser test's GitHub user).
    authorizing: Option<Person>,
    /// Codes handed out and not yet exchanged.
    codes: HashMap<String, Person>,
    tokens: HashMap<String, Person>,
    next: u64,
    /// Form fields and `Accept` of every token request.
    exchanges: Vec<(HashMap<String, String>, Option<String>)>,
    failure: Option<GitHubFailure>,
}

/// GitHub's OAuth server (`/login/oauth/access_token`) and REST API (`/api/user`,
/// `/api/user/emails`, as GitHub Enterprise lays them out under its API URL).
#[derive(Clone)]
pub struct FakeGitHub {
    pub oauth_url: String,
    pub api_url: String,
    inner: Arc<Mutex<GitHubInner>>,
}

fn github_error(error: &str, description: &str) -> Response {
    // GitHub answers a refused exchange with 200 and an `error`.
    Json(json!({"error": error, "error_description": description,
                "error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"}))
    .into_response()
}

async fn access_token(
    State(inner): State<Arc<Mutex<GitHubInner>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().expect("lock");
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).map(str::to_string);
    inner.exchanges.push((form.clone(), accept.clone()));
    match inner.failure {
        Some(GitHubFailure::ExchangeDown) => return (StatusCode::BAD_GATEWAY, "bad gateway").into_response(),
        Some(GitHubFailure::ExchangeGarbage) => return (StatusCode::OK, "<html>unicorn</html>").into_response(),
        _ => {}
    }
    if form.get("client_id").map(String::as_str) != Some(GITHUB_CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(GITHUB_CLIENT_SECRET)
    {
        return github_error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        );
    }
    let Some(person) = form.get("code").and_then(|c| inner.codes.remove(c)) else {
        return github_error("bad_verification_code", "The code passed is incorrect or expired.");
    };
    inner.next += 1;
    let token = format!("gho_test{}", inner.next);
    inner.tokens.insert(token.clone(), person);
    if accept.as_deref() != Some("application/json") {
        // Without `Accept: application/json` GitHub answers a form.
        return (StatusCode::OK, format!("access_token={token}&scope=user%3Aemail&token_type=bearer")).into_response();
    }
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})).into_response()
}

/// GitHub's authorize page, already approved: straight back to `redirect_uri` with a code
/// for the person set by [`FakeGitHub::authorize_as`] and the client's `state`.
async fn authorize(State(inner): State<Arc<Mutex<GitHubInner>>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut inner = inner.lock().expect("lock");
    let (Some(person), Some(redirect)) = (inner.authorizing.clone(), q.get("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "no one to authorize, or no redirect_uri").into_response();
    };
    if q.get("client_id").map(String::as_str) != Some(GITHUB_CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    }
    inner.next += 1;
    let code = format!("code{:016x}", inner.next);
    inner.codes.insert(code.clone(), person);
    let state = q.get("state").cloned().unwrap_or_default();
    let location = format!("{redirect}?code={code}&state={state}");
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn person_of(inner: &GitHubInner, headers: &HeaderMap) -> Option<Person> {
    let token = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?;
    inner.tokens.get(token).cloned()
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials", "status": "401"}))).into_response()
}

async fn user(State(inner): State<Arc<Mutex<GitHubInner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().expect("lock");
    let Some(p) = person_of(&inner, &headers) else { return unauthorized() };
    Json(json!({"login": p.login, "id": p.id, "name": p.name, "email": null, "type": "User"})).into_response()
}

async fn emails(State(inner): State<Arc<Mutex<GitHubInner>>>, headers: HeaderMap) -> Response {
    let inner = inner.lock().expect("lock");
    let Some(p) = person_of(&inner, &headers) else { return unauthorized() };
    if inner.failure == Some(GitHubFailure::EmailsForbidden) {
        return (StatusCode::FORBIDDEN, Json(json!({"message": "Resource not accessible by integration"})))
            .into_response();
    }
    let list: Vec<Value> = p
        .emails
        .iter()
        .map(|(email, primary, verified)| {
            json!({"email": email, "primary": primary, "verified": verified, "visibility": "private"})
        })
        .collect();
    Json(list).into_response()
}

impl FakeGitHub {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(GitHubInner::default()));
        let app = Router::new()
            .route("/login/oauth/access_token", post(access_token))
            .route("/login/oauth/authorize", get(authorize))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .with_state(inner.clone());
        let url = serve(app).await;
        FakeGitHub { oauth_url: url.clone(), api_url: format!("{url}/api"), inner }
    }

    /// A single-use code for `person`, as GitHub's redirect would hand the client.
    pub fn code_for(&self, person: &Person) -> String {
        let mut inner = self.inner.lock().expect("lock");
        inner.next += 1;
        let code = format!("code{:016x}", inner.next);
        inner.codes.insert(code.clone(), person.clone());
        code
    }

    /// The person the authorize page signs in, as GitHub would after its own login.
    pub fn authorize_as(&self, person: Person) {
        self.inner.lock().expect("lock").authorizing = Some(person);
    }

    pub fn fail(&self, failure: Option<GitHubFailure>) {
        self.inner.lock().expect("lock").failure = failure;
    }

    /// Form fields and `Accept` header of every code exchange.
    pub fn exchanges(&self) -> Vec<(HashMap<String, String>, Option<String>)> {
        self.inner.lock().expect("lock").exchanges.clone()
    }
}
