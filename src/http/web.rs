//! The web app (issue 12): a single-page app of standard ES modules, compiled into the
//! binary by `build.rs` from `web/`, served at `/` with its assets under a versioned path,
//! and the public settings it starts from (`GET /api/users/config/`).
//!
//! `index.html` is answered for every path of the app (`/settings`, `/people/alice`), with
//! `no-cache`; its assets live under `/assets/<version>/…`, where the version changes
//! whenever any byte of `web/` does, so they are cached for a year. Relative imports
//! between modules stay inside one version, so a page never mixes two builds.

use std::sync::LazyLock;

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use crate::http::Json;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Changes whenever a file of `web/` does.
pub const VERSION: &str = assets::VERSION;

/// The app's policy: its own scripts and styles only (no inline ones, no `eval`), pictures
/// from userd or the page itself (`blob:` previews of a picture being chosen), requests to
/// userd only, and never framed.
pub const APP_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; \
    font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

/// Paths the app draws; any other path outside the APIs gets the app's "not found" page
/// with status 404. `web/src/routes.js` holds the same list (a test compares them).
pub const PAGES: &[&str] = &[
    "/",
    "/signin",
    "/signup",
    "/forgot-password",
    "/reset-password",
    "/verify-email",
    "/auth/github",
    "/auth/google",
    "/profile",
    "/settings",
    "/people",
    "/people/{username}",
    "/files",
    "/staff",
    "/staff/users/{id}",
];

static PAGE_ROUTES: LazyLock<matchit::Router<()>> = LazyLock::new(|| {
    let mut r = matchit::Router::new();
    for page in PAGES {
        r.insert(*page, ()).expect("distinct page templates");
    }
    r
});

/// `index.html` with its asset URLs pointing at this build's version.
static INDEX: LazyLock<String> = LazyLock::new(|| {
    let raw = file("index.html").expect("web/index.html is embedded");
    String::from_utf8_lossy(raw).replace("{{VERSION}}", VERSION)
});

fn file(path: &str) -> Option<&'static [u8]> {
    assets::FILES.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/users/config/", get(config)).route("/assets/{version}/{*path}", get(asset))
}

/// The content type of an asset, by its extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("woff2") => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// One asset of this version, cached for a year; another version's is gone (404), so a
/// page of an older build fails loudly instead of running a mix of two builds.
async fn asset(Path((version, path)): Path<(String, String)>) -> Response {
    let served = (version == VERSION).then(|| file(&path)).flatten().filter(|_| path != "index.html");
    let Some(bytes) = served else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, "no-store")], "Not found\n").into_response();
    };
    (
        [(header::CONTENT_TYPE, content_type(&path)), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
        bytes,
    )
        .into_response()
}

/// The app's answer to a path no route serves (see [`super::layers::Fallback`]): the page
/// for `GET` and `HEAD` (404 when the app has no such page, so a mistyped link is not a
/// soft 200), 405 for other methods; plain 404 under `/assets/`.
pub fn page(method: &Method, path: &str) -> Response {
    if path.starts_with("/assets/") {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n")
            .into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")], "Method not allowed\n")
            .into_response();
    }
    // `/settings/` draws `/settings`, as the app's router reads it.
    let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let status = if PAGE_ROUTES.at(trimmed).is_ok() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let mut res = (status, INDEX.as_str()).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Revalidated on every visit, so a new build's asset version is picked up at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    res
}

const TAG: &str = "web";

#[derive(OpenApi)]
#[openapi(
    paths(config),
    components(schemas(AppConfig, Providers, GoogleConfig, GitHubConfig, StripeConfig, Limits)),
    tags((name = TAG, description = "What the web app at `/` starts from. Public."))
)]
pub struct Doc;

/// What this deployment offers, for the web app to draw only what works.
#[derive(Serialize, ToSchema)]
pub struct AppConfig {
    providers: Providers,
    stripe: StripeConfig,
    limits: Limits,
}

/// The sign-in providers configured; `null` for one that is not.
#[derive(Serialize, ToSchema)]
pub struct Providers {
    google: Option<GoogleConfig>,
    github: Option<GitHubConfig>,
}

#[derive(Serialize, ToSchema)]
pub struct GoogleConfig {
    /// The OAuth client id Google's ID tokens must be made for (`USERD_GOOGLE_CLIENT_ID`).
    #[schema(example = "1234-abc.apps.googleusercontent.com")]
    client_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct GitHubConfig {
    /// The OAuth app's client id (`USERD_GITHUB_CLIENT_ID`).
    #[schema(example = "Ov23liAbCdEf")]
    client_id: String,
    /// Where the browser is sent to authorize (`{USERD_GITHUB_OAUTH_URL}/login/oauth/authorize`).
    #[schema(example = "https://github.com/login/oauth/authorize")]
    authorize_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct StripeConfig {
    /// Whether `POST /api/users/stripe/checkout/` can open a checkout (`USERD_STRIPE_SECRET_KEY` is set).
    enabled: bool,
    /// The plans a checkout can be opened for (`USERD_STRIPE_PRICES`), in the order configured.
    #[schema(example = json!(["pro"]))]
    plans: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Limits {
    /// Largest upload to `POST /api/files/`, in bytes.
    #[schema(example = 26214400)]
    max_upload_bytes: u64,
    /// Largest profile picture, in bytes.
    #[schema(example = 5242880)]
    max_picture_bytes: u64,
}

/// The sign-in providers and payments this deployment has, and its upload limits.
///
/// Public. Secrets are never part of it: only client ids, which browsers see anyway.
#[utoipa::path(get, path = "/api/users/config/", tag = TAG, operation_id = "web_config",
    responses((status = 200, body = AppConfig, description = "What is configured")))]
async fn config(State(state): State<AppState>) -> impl IntoResponse {
    let social = &state.config.social;
    let stripe = &state.config.stripe;
    let github = match (&social.github_client_id, &social.github_client_secret) {
        (Some(id), Some(_)) => Some(GitHubConfig {
            client_id: id.clone(),
            authorize_url: format!("{}/login/oauth/authorize", social.github_oauth_url.trim_end_matches('/')),
        }),
        _ => None,
    };
    let body = AppConfig {
        providers: Providers {
            google: social.google_client_id.clone().map(|client_id| GoogleConfig { client_id }),
            github,
        },
        stripe: StripeConfig {
            enabled: stripe.secret_key.is_some() && !stripe.prices.is_empty(),
            plans: stripe.prices.iter().map(|(plan, _)| plan.clone()).collect(),
        },
        limits: Limits {
            max_upload_bytes: state.config.max_upload_bytes,
            max_picture_bytes: state.domain.pictures.limits().max_bytes,
        },
    };
    // The settings change only with a restart; a minute's caching spares a request per page.
    ([(header::CACHE_CONTROL, "private, max-age=60")], Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_the_app_draws_is_served_and_its_router_lists_the_same_pages() {
        let routes = std::str::from_utf8(file("src/routes.js").expect("routes.js embedded")).expect("utf-8");
        for page in PAGES {
            let js = page.replace("{username}", ":username").replace("{id}", ":id");
            assert!(routes.contains(&format!("'{js}'")), "web/src/routes.js lists {js}");
        }
    }

    #[test]
    fn index_points_at_this_versions_assets() {
        assert!(INDEX.contains(&format!("/assets/{VERSION}/")), "{}", *INDEX);
        assert!(!INDEX.contains("{{VERSION}}"));
    }

    #[test]
    fn the_app_policy_allows_no_inline_code_and_no_framing() {
        assert!(!APP_POLICY.contains("unsafe-inline") && !APP_POLICY.contains("unsafe-eval"));
        assert!(APP_POLICY.contains("frame-ancestors 'none'"));
    }
}
