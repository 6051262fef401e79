//! Endpoints for operators and tools: liveness, readiness, metrics, public keys, OpenAPI.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_swagger_ui::SwaggerUi;

use super::{AppState, surfaces};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(docs())
}

/// The docs page may run only its own scripts and styles (Swagger UI sets inline styles
/// and draws icons from `data:` URLs), talk only to userd, and never be framed.
const DOCS_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn docs() -> Router<AppState> {
    Router::from(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi())).layer(
        SetResponseHeaderLayer::overriding(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_POLICY)),
    )
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(OpenApi)]
#[openapi(
    paths(healthz, readyz, metrics, jwks),
    components(schemas(Health)),
    tags((name = "operations", description = "Liveness, readiness, metrics and public keys."))
)]
struct OpsDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A JWT access token or a personal API token; `Authorization: JWT <token>` is accepted too.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionid",
                "Browser session from POST /api/users/session/; unsafe methods also need the `X-CSRFToken` header.",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "userd", description = "One users service speaking five users APIs over one set of users. See docs/conformance.md for how each document is served."),
    modifiers(&BearerScheme)
)]
struct RootDoc;

/// The OpenAPI document of every surface.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = RootDoc::openapi();
    doc.merge(surfaces::jwt::Doc::openapi());
    doc.merge(surfaces::account::Doc::openapi());
    doc.merge(surfaces::files::Doc::openapi());
    doc.merge(OpsDoc::openapi());
    doc
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health, description = "database unreachable")))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.domain.ready().await {
        (StatusCode::OK, Json(Health { status: "ok" }))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable" }))
    }
}

/// Prometheus metrics in text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// Public keys of access and refresh tokens (empty with HS256).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations", responses((status = 200, content_type = "application/json", body = Object)))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.domain.sessions.tokens().jwks()))
}
