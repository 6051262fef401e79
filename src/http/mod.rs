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
use metrics_exporter_prometheus::PrometheusHandle;

use crate::{config::Config, domain::Service};

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub svc: Service,
    pub config: Arc<Config>,
    /// Base of absolute links, without a trailing slash.
    pub public_url: Arc<str>,
    pub metrics: PrometheusHandle,
}

/// Largest JSON body accepted (uploads have their own limit).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// The whole application: every surface, the operational endpoints, and the layers.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(surfaces::jwt::router())
        .merge(surfaces::account::router())
        .merge(surfaces::files::router(state.config.max_upload_bytes))
        .merge(ops::router());
    layers::apply(api, &state).with_state(state)
}
