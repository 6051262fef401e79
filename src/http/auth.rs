//! Credentials of every surface: a JWT access token (`Bearer` or document 004's `JWT`
//! scheme) or a personal API token (`Bearer` or DRF's `Token` scheme) in `Authorization`,
//! or the browser session cookie with `X-CSRFToken` on unsafe methods.

use std::marker::PhantomData;

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header, header::AUTHORIZATION, request::Parts},
};
use axum_extra::extract::CookieJar;
use secrecy::SecretString;

use super::{AppState, client::ClientAddr};
use crate::domain::{
    AuthFailure, CsrfFailure, Error,
    model::{Client, Principal},
};

pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";

/// What the `Authorization` header carries.
pub enum Credential<'a> {
    Jwt(&'a str),
    Opaque(&'a str),
}

/// Reads `Authorization: Bearer <token>`, `Authorization: JWT <token>` (document 004) or
/// `Authorization: Token <key>` (Django REST framework's authtoken scheme, which only ever
/// carries a personal API token). A header in another scheme, or an empty token, counts as
/// invalid credentials.
pub fn credential(headers: &HeaderMap) -> Option<Result<Credential<'_>, Error>> {
    let value = headers.get(AUTHORIZATION)?;
    let invalid = || Err(Error::Unauthenticated(AuthFailure::Invalid));
    let Ok(value) = value.to_str() else { return Some(invalid()) };
    let Some((scheme, token)) = value.trim().split_once(' ') else { return Some(invalid()) };
    let token = token.trim();
    if token.is_empty() {
        return Some(invalid());
    }
    if scheme.eq_ignore_ascii_case("token") {
        return Some(Ok(Credential::Opaque(token)));
    }
    if !(scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt")) {
        return Some(invalid());
    }
    // A JWT is three base64url segments; anything else is a personal API token.
    if token.split('.').count() == 3 { Some(Ok(Credential::Jwt(token))) } else { Some(Ok(Credential::Opaque(token))) }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

/// Authenticates a request. A live session cookie on an unsafe method requires its CSRF
/// token even when an `Authorization` header is present too, so a forged request cannot
/// skip the check by adding one.
pub async fn principal(state: &AppState, method: &Method, headers: &HeaderMap) -> Result<Principal, Error> {
    let jar = CookieJar::from_headers(headers);
    let cookie_session = match jar.get(SESSION_COOKIE) {
        Some(c) => state.domain.sessions.authenticate_cookie(c.value()).await?,
        None => None,
    };
    if let Some(session) = &cookie_session
        && !is_safe(method)
    {
        check_origin(state, headers)?;
        let header = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        state.domain.sessions.check_csrf(session, header)?;
    }
    match credential(headers) {
        Some(Ok(Credential::Jwt(token))) => state.domain.sessions.authenticate_jwt(token).await,
        Some(Ok(Credential::Opaque(token))) => state.domain.api_tokens.authenticate(&SecretString::from(token)).await,
        Some(Err(e)) => Err(e),
        None => match cookie_session {
            Some(s) => Ok(s.principal),
            None => Err(Error::Unauthenticated(AuthFailure::Missing)),
        },
    }
}

/// The second CSRF layer, beside the token: a browser's unsafe request made with a session
/// cookie (or signing one in) must come from userd's own origin (`USERD_PUBLIC_URL`, or the
/// request's `Host` under either scheme) or one of `USERD_CORS_ORIGINS`. Browsers name the
/// page's origin in `Origin` on every unsafe request; without it, `Sec-Fetch-Site:
/// cross-site` is refused. A request with neither (not a browser) is left to the token.
pub fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), Error> {
    let refused = |origin: &str| Err(Error::Csrf(CsrfFailure::Origin(origin.chars().take(200).collect())));
    let Some(origin) = headers.get(header::ORIGIN) else {
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        return if site.is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) { refused("null") } else { Ok(()) };
    };
    let Ok(origin) = origin.to_str() else { return refused("null") };
    let origin = origin.trim();
    let same = |candidate: &str| candidate.trim_end_matches('/').eq_ignore_ascii_case(origin);
    if same(url_origin(&state.public_url)) || state.config.cors_origins.iter().any(|o| same(o)) {
        return Ok(());
    }
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
        && (same(&format!("http://{host}")) || same(&format!("https://{host}")))
    {
        return Ok(());
    }
    refused(origin)
}

/// `scheme://host[:port]` of a URL.
fn url_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The caller when credentials were sent (they must be valid), `None` for an anonymous
/// request: for endpoints anyone may read whose answer depends on who asks.
pub async fn optional_principal(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Error> {
    match principal(state, method, headers).await {
        Ok(p) => Ok(Some(p)),
        Err(Error::Unauthenticated(AuthFailure::Missing)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The caller if any (see [`optional_principal`]); rejects bad credentials with `E`.
pub struct MaybeAuthed<E>(pub Option<Principal>, pub PhantomData<E>);

impl<E> FromRequestParts<AppState> for MaybeAuthed<E>
where
    E: From<Error> + axum::response::IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuthed(optional_principal(state, &parts.method, &parts.headers).await?, PhantomData))
    }
}

/// The authenticated caller (an active account: the domain makes no principal for
/// another); rejects with the surface's error type `E`.
pub struct Authed<E>(pub Principal, pub PhantomData<E>);

impl<E> FromRequestParts<AppState> for Authed<E>
where
    E: From<Error> + axum::response::IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = principal(state, &parts.method, &parts.headers).await?;
        Ok(Authed(p, PhantomData))
    }
}

/// Who is asking: the client's address (the peer's, or the one trusted proxies forwarded
/// for: see [`super::client`]) and its `User-Agent`, for throttling and security events.
pub struct ClientInfo(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ClientAddr>().map(|ClientAddr(ip)| *ip);
        let agent = parts.headers.get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok());
        Ok(ClientInfo(Client::new(ip, agent)))
    }
}
