//! Endpoints for operators and tools: liveness, readiness, metrics, public keys, OpenAPI.

use axum::{
    Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use bytes::Bytes;
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    AppState,
    problem::{Detail, InternalError, internal_error},
    surfaces,
};
use crate::http::Json;

/// `json` is the OpenAPI document's JSON text ([`openapi`]), served as it is.
pub fn router(json: Bytes) -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(docs(json))
}

/// The docs page may run only its own scripts and styles (Swagger UI sets inline styles
/// and draws icons from `data:` URLs), talk only to userd, and never be framed.
const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The docs page, and the document it reads at `/api/openapi.json`, kept as its JSON text
/// (`json`, made once by [`super::describe`]): as a tree of values it holds ~8 MB, most of a
/// node's memory.
fn docs(json: Bytes) -> Router<AppState> {
    let served = move || {
        let json = json.clone();
        async move { ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json) }
    };
    Router::from(SwaggerUi::new("/api/docs").config(utoipa_swagger_ui::Config::from("/api/openapi.json")))
        .route("/api/openapi.json", get(served))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DOCS_POLICY),
        ))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    status: &'static str,
}

/// The public keys that verify userd's tokens (RFC 7517); empty with HS256.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: the domain renders the key set")]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// One public key (RFC 8037's `OKP` key for EdDSA); `kid` is the `kid` of the tokens it verifies.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: the domain renders the key set")]
pub struct Jwk {
    #[schema(example = "OKP")]
    kty: String,
    #[schema(example = "Ed25519")]
    crv: String,
    #[schema(example = "EdDSA")]
    alg: String,
    #[schema(rename = "use", example = "sig")]
    key_use: String,
    #[schema(example = "mZ3kq0Xb8n2T6mJ0")]
    kid: String,
    /// The public key, base64url without padding.
    #[schema(example = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")]
    x: String,
}

#[derive(OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics, jwks),
    components(schemas(Health, JwkSet, Jwk)),
    tags((name = TAG, description = "For operators and tools: liveness, readiness, Prometheus metrics and the public keys of access tokens. Public."))
)]
struct OpsDoc;

const TAG: &str = "operations";

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT or personal API token")
                    .description(Some(BEARER_DESCRIPTION))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description("sessionid", SESSION_DESCRIPTION))),
        );
    }
}

const BEARER_DESCRIPTION: &str = "A JWT access token (from `POST /api/users/register/` or `/api/users/login/`) \
or the personal API token (`userd_…`, from `GET /api/users/me/`), as `Authorization: Bearer <token>`. \
`Authorization: JWT <token>` (document 004's scheme) works for either, and `Authorization: Token <token>` \
(Django REST framework's scheme) for the personal API token.";

const SESSION_DESCRIPTION: &str = "The browser session: the `sessionid` cookie set by `POST /api/users/session/`. \
Unsafe methods (POST, PUT, PATCH, DELETE) also need the `X-CSRFToken` header, equal to the `csrftoken` \
cookie (also in the sign-in answer).";

const DESCRIPTION: &str = "userd is one users service speaking several users APIs over one set of users: \
document 002's JWT accounts (`/api/users/register/`, `login/`, `profile/`, …, tag `users`), documents 000 \
and 001's account with its personal API token, settings, browser session and Stripe checkout (tag \
`account`), files (`/api/files/`, tag `files`) and operational endpoints (tag `operations`).

Every authenticated operation accepts every credential listed in its `security`: a JWT access token or the \
personal API token (`bearer`), or the browser session cookie (`session`, with `X-CSRFToken` on unsafe \
methods). Text limits (`maxLength`) count characters. Each surface answers errors in its own shape: \
`{status: \"failed\", message, errors?}` for `users`, `{message, errors?}` for `account` and `files`, \
where `errors` maps each field to its messages. While the database is out of reach, an operation that needs it \
answers 503 in its surface's shape with `Retry-After`.";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "userd",
        version = env!("CARGO_PKG_VERSION"),
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&BearerScheme)
)]
struct RootDoc;

/// The OpenAPI document of every surface, and the path templates each surface serves with
/// the 500 in its shape (what a panic while serving one of them answers).
pub fn openapi() -> (utoipa::openapi::OpenApi, Vec<(String, InternalError)>) {
    use surfaces::{account, careers, files, jwt, microservice, staff};
    let mut doc = RootDoc::openapi();
    let mut shapes = Vec::new();
    let mut add = |part: utoipa::openapi::OpenApi, shape: InternalError| {
        shapes.extend(part.paths.paths.keys().map(|template| (template.clone(), shape)));
        doc.merge(part);
    };
    // Each surface's operations may answer 503 while the database is out of reach, in that
    // surface's error shape.
    add(unavailable(jwt::openapi(), "ErrorResponse"), internal_error::<jwt::Dialect>);
    add(unavailable(account::Doc::openapi(), "MessageResponse"), internal_error::<account::Dialect>);
    add(unavailable(files::Doc::openapi(), "MessageResponse"), internal_error::<account::Dialect>);
    add(unavailable(microservice::Doc::openapi(), "DetailResponse"), internal_error::<microservice::Dialect>);
    add(unavailable(careers::Doc::openapi(), "CareersDetail"), internal_error::<careers::Dialect>);
    add(unavailable(staff::Doc::openapi(), "ErrorResponse"), internal_error::<jwt::Dialect>);
    add(OpsDoc::openapi(), internal_error::<Detail>);
    add(super::web::Doc::openapi(), internal_error::<account::Dialect>);
    (doc, shapes)
}

/// Operations that never reach the database, so never answer 503: a fixed answer, and
/// picture bytes read from file storage by their immutable name.
const NO_DATABASE: [&str; 2] = ["users_status", "microservice_media"];

/// `doc` with a 503 response on every operation that reaches the database, its body the
/// surface's error schema `schema`, with the `Retry-After` header.
fn unavailable(mut doc: utoipa::openapi::OpenApi, schema: &str) -> utoipa::openapi::OpenApi {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder};
    let retry_after = HeaderBuilder::new()
        .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::Integer)))
        .description(Some("Seconds to wait before trying again"))
        .build();
    let response = ResponseBuilder::new()
        .description(
            "The database cannot be reached for now: `Service temporarily unavailable, try again later.`, \
             within a bounded wait (about 5 s); `Retry-After` says when to try again",
        )
        .header("Retry-After", retry_after)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
        .build();
    for item in doc.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
        for op in operations.into_iter().flatten() {
            if op.operation_id.as_deref().is_some_and(|id| NO_DATABASE.contains(&id)) {
                continue;
            }
            op.responses.responses.entry("503".into()).or_insert_with(|| response.clone().into());
        }
    }
    doc
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = TAG, operation_id = "operations_healthz",
    responses((status = 200, body = Health, description = "The process is alive")))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = TAG, operation_id = "operations_readyz",
    responses(
        (status = 200, body = Health, description = "Ready to serve: the database answers"),
        (status = 503, body = Health, description = "Not ready: the database is unreachable (`status: unavailable`)"),
    ))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.domain.ready().await {
        (StatusCode::OK, Json(Health { status: "ok" }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable" }))
    }
}

/// Prometheus metrics in text format.
#[utoipa::path(get, path = "/metrics", tag = TAG, operation_id = "operations_metrics",
    responses((status = 200, content_type = "text/plain", body = String, description = "This node's metrics in Prometheus' text format 0.0.4")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    if let Some(stats) = state.domain.throttle.stats() {
        text.push_str("# HELP userd_throttle_decisions_total Throttled and allowed attempts, per action.\n");
        text.push_str("# TYPE userd_throttle_decisions_total counter\n");
        for (action, throttled, n) in stats.decisions {
            let outcome = if throttled { "throttled" } else { "allowed" };
            text.push_str(&format!(
                "userd_throttle_decisions_total{{action=\"{}\",outcome=\"{outcome}\"}} {n}\n",
                action.as_str()
            ));
        }
        text.push_str("# HELP userd_throttle_fallbacks_total Decisions made by strict per-node limits because the shared counters could not be reached.\n");
        text.push_str(&format!(
            "# TYPE userd_throttle_fallbacks_total counter\nuserd_throttle_fallbacks_total {}\n",
            stats.fallbacks
        ));
        text.push_str("# HELP userd_throttle_degraded 1 while the shared counters cannot be reached.\n");
        text.push_str(&format!(
            "# TYPE userd_throttle_degraded gauge\nuserd_throttle_degraded {}\n",
            u8::from(stats.degraded)
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Public keys of access and refresh tokens.
///
/// Empty with `USERD_JWT_ALG=HS256`, whose keys are secret.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = TAG, operation_id = "operations_jwks",
    responses((status = 200, content_type = "application/json", body = JwkSet, description = "The JWK set of every key that verifies tokens; cacheable for 5 minutes")))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.domain.sessions.tokens().jwks()))
}
