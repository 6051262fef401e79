//! The HTTP front: each surface's router, the operational endpoints, and the layers every
//! request passes through. Surfaces parse their dialect and call the domain; nothing here
//! knows SQL.

pub mod auth;
pub mod body;
pub mod client;
mod json;
mod layers;
mod observe;
mod ops;
pub mod paging;
pub mod problem;
pub mod server;
pub mod surfaces;
pub mod web;

pub use json::Json;
pub use layers::App;

use std::sync::Arc;

use crate::{config::Config, domain::Domain, telemetry::Metrics};

/// What every handler may reach. One shared allocation: axum clones a handler's state for
/// every request (twice), so a clone is a single reference count, not one per field, and
/// not the several counters every core would otherwise bounce between them.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`].
pub struct Shared {
    pub domain: Domain,
    pub config: Config,
    /// Base of absolute links, without a trailing slash.
    pub public_url: Box<str>,
    pub metrics: Metrics,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(domain: Domain, config: Config, public_url: String, metrics: Metrics) -> Self {
        AppState(Arc::new(Shared { domain, config, public_url: public_url.into(), metrics }))
    }
}

/// Largest JSON body accepted (uploads have their own limit).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// What the application says of itself, built before its state (it reads no database):
/// the OpenAPI document, as a tree and as the JSON served at `/api/openapi.json`, and which
/// surface serves each of its paths.
pub struct Described {
    doc: utoipa::openapi::OpenApi,
    json: bytes::Bytes,
    shapes: Vec<(String, problem::InternalError)>,
}

/// Describes the API (a few milliseconds of CPU: start-up runs it while the database opens).
pub fn describe() -> Described {
    let (doc, shapes) = ops::openapi();
    let json = bytes::Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
    Described { doc, json, shapes }
}

/// The whole application: every surface, each with its own error shape (panics and wrong
/// methods included), the operational endpoints, and the layers every request passes
/// through.
pub fn router(state: AppState, described: Described) -> App {
    use surfaces::{account, careers, files, jwt, microservice, staff};
    let Described { doc, json, shapes } = described;
    let routes = layers::Routes::new(&doc, &shapes);
    let app = axum::Router::new()
        .merge(layers::api::<jwt::Dialect, _>(jwt::router(), &routes))
        .merge(layers::api::<account::Dialect, _>(account::router(), &routes))
        .merge(layers::api::<account::Dialect, _>(files::router(state.config.max_upload_bytes), &routes))
        .merge(layers::api::<careers::Dialect, _>(careers::router(), &routes))
        .merge(layers::api::<jwt::Dialect, _>(staff::router(), &routes))
        .merge(layers::api::<microservice::Dialect, _>(
            microservice::router(state.domain.pictures.limits().max_bytes),
            &routes,
        ))
        .merge(layers::api::<problem::Detail, _>(ops::router(json), &routes))
        .merge(layers::api::<account::Dialect, _>(web::router(), &routes));
    // Unknown paths under a surface's prefix answer in its shape. `/api/users/` is shared by
    // documents 000/001 and 002; its 404 is 002's envelope, whose `message` is also what
    // 000/001 clients read.
    let fallback = layers::Fallback::new(
        &routes,
        vec![
            ("/api/users/", layers::not_found::<jwt::Dialect>),
            ("/api/files/", layers::not_found::<account::Dialect>),
            ("/api/user/", layers::not_found::<microservice::Dialect>),
            ("/careers/users/", layers::not_found::<careers::Dialect>),
        ],
        web::page,
    );
    let app = app.fallback_service(fallback).with_state(state.clone());
    layers::apply(app, &state, &routes)
}
