//! Layers: those of every request (request ids, tracing, metrics, body limits, security
//! headers, CORS, fallbacks) and those of one surface's API routes (its panic shape,
//! framing and caching headers), so the web app can have its own at `/`.

use std::time::{Duration, Instant};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode, Uri, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    trace::TraceLayer,
};
use tracing::Span;

use super::{
    AppState, MAX_JSON_BYTES,
    problem::{self, ApiError, Detail, Dialect},
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every API route of one surface gets: panics answered in the surface's own
/// shape, and headers for JSON that no browser should frame or cache.
pub fn api<D: Dialect, S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(CatchPanicLayer::custom(problem::panic_response::<D>))
}

/// What every request gets, whatever serves it: a request id, a tracing span, metrics,
/// the body limit, `nosniff`, the referrer policy and CORS; and the fallbacks.
pub fn apply(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let mut router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        // Outermost guard: a panic outside any surface (a layer's) still gets a bare 500.
        .layer(CatchPanicLayer::custom(problem::panic_response::<Detail>));
    if !state.config.cors_origins.is_empty() {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-csrftoken")])
                .allow_credentials(true),
        );
    }
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_response(access_line))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The span of one request: every line logged while it is served carries its method, matched
/// route and request id. Only the route template is kept, never the path's values, the query
/// string or another header.
fn request_span(req: &Request<Body>) -> Span {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
    let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
    let method = crate::telemetry::method_label(req.method());
    tracing::info_span!("request", method = %method, route = %route, request_id = %id)
}

/// The access log: one `info` line per request, in the request's span, once its status is known.
fn access_line<B>(res: &Response<B>, latency: Duration, _: &Span) {
    // Milliseconds with microsecond precision, as a number (JSON) that is short to read (text).
    let ms = latency.as_micros() as f64 / 1000.0;
    tracing::info!(status = res.status().as_u16(), ms, "access");
}

async fn record_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let res = next.run(req).await;
    state.metrics.request(&method, route.as_deref(), res.status(), start.elapsed());
    res
}

/// Unknown paths. Under `/api/` and for the operational endpoints the answer is JSON in
/// Django REST framework's shape; every other path is the web app's to answer, and until
/// it is served there it is a plain 404.
async fn not_found(uri: Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path == "/api" || path.starts_with("/.well-known/") {
        ApiError::<Detail>::new(StatusCode::NOT_FOUND, "Not found.").into_response()
    } else {
        (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "Not found\n").into_response()
    }
}

async fn method_not_allowed(method: Method) -> Response {
    ApiError::<Detail>::new(StatusCode::METHOD_NOT_ALLOWED, format!("Method \"{method}\" not allowed.")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::{body::to_bytes, routing::get};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;
    use crate::http::surfaces::{account, jwt};

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    async fn panic_body<D: Dialect>() -> (StatusCode, Value) {
        let router: Router = api::<D, ()>(Router::new().route("/boom", get(boom)));
        let res = router.oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await.expect("response");
        let status = res.status();
        let bytes = to_bytes(res.into_body(), 1 << 16).await.expect("body");
        (status, serde_json::from_slice(&bytes).expect("json"))
    }

    #[tokio::test]
    async fn a_panic_answers_in_the_shape_of_the_surface_it_happened_in() {
        let cases = [
            (
                panic_body::<jwt::Dialect>().await,
                json!({"status": "failed", "message": "Internal server error."}),
                "002",
            ),
            (panic_body::<account::Dialect>().await, json!({"message": "Internal server error."}), "000/001"),
            (panic_body::<Detail>().await, json!({"detail": "Internal server error."}), "operations"),
        ];
        for ((status, body), expected, surface) in cases {
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{surface}");
            assert_eq!(body, expected, "{surface}: no detail of the panic leaks");
        }
    }
}
