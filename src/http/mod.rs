//! The HTTP front: each surface's router, the operational endpoints, and the layers every
//! request passes through. Surfaces parse their dialect and call the domain; nothing here
//! knows SQL.

pub mod auth;
pub mod json;
mod layers;
mod ops;
pub mod problem;
pub mod surfaces;

use std::sync::Arc;

use axum::Router;

use crate::{config::Config, domain::Domain, telemetry::Metrics};

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub domain: Domain,
    pub config: Arc<Config>,
    /// Base of absolute links, without a trailing slash.
    pub public_url: Arc<str>,
    pub metrics: Metrics,
}

impl AppState {
    pub fn new(domain: Domain, config: Config, public_url: String) -> Self {
        AppState { domain, config: Arc::new(config), public_url: public_url.into(), metrics: Metrics::new() }
    }
}

/// Largest JSON body accepted (uploads have their own limit).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The whole application: every surface, each with its own error shape (panics
/// included), the operational endpoints, and the layers every request passes through.
pub fn router(state: AppState) -> Router {
    use surfaces::{account, files, jwt};
    let app = Router::new()
        .merge(layers::api::<jwt::Dialect, _>(jwt::router()))
        .merge(layers::api::<account::Dialect, _>(account::router()))
        .merge(layers::api::<account::Dialect, _>(files::router(state.config.max_upload_bytes)))
        .merge(layers::api::<problem::Detail, _>(ops::router()));
    layers::apply(app, &state).with_state(state)
}
