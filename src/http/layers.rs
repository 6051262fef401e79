//! Layers: what every request gets (request ids, tracing, metrics, panics answered in the
//! shape of the surface of the route, body limits, security and caching headers, CORS,
//! fallbacks), and what one surface's routes get from their router (wrong methods answered
//! in its shape).

use std::{
    collections::HashMap,
    convert::Infallible,
    future::{Ready, ready},
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, MatchedPath, Request},
    http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version, header},
    response::{IntoResponse, Response},
};
use tower::{Service, ServiceBuilder, util::BoxCloneSyncService};
use tower_http::{
    compression::{
        CompressionLayer, Predicate,
        predicate::{NotForContentType, SizeAbove},
    },
    cors::{AllowOrigin, CorsLayer},
    timeout::{RequestBodyDeadlineLayer, RequestBodyTimeoutLayer},
};

use super::{
    AppState, MAX_JSON_BYTES, observe,
    problem::{ApiError, Detail, Dialect, InternalError},
    server,
};

/// What a surface's router gets: a method its route does not serve answered in the surface's
/// own shape, and `OPTIONS` answered as Django REST framework does. (Its panics are answered
/// in its shape by [`observe::ObserveLayer`], which knows each route's surface.)
pub fn api<D: Dialect, S: Clone + Send + Sync + 'static>(router: Router<S>, routes: &Routes) -> Router<S> {
    let routes = routes.clone();
    router.method_not_allowed_fallback(move |method: Method, matched: Option<MatchedPath>| {
        let allow = matched.and_then(|m| routes.allow.get(m.as_str()).cloned());
        async move { method_not_allowed::<D>(method, allow) }
    })
}

/// Every route's path template and the methods it answers, read from the OpenAPI
/// document (which a test keeps complete).
#[derive(Clone)]
pub struct Routes {
    templates: observe::Templates,
    /// Template → `Allow` value, in Django REST framework's form (`GET, HEAD, OPTIONS`).
    allow: Arc<HashMap<String, HeaderValue>>,
}

impl Routes {
    /// `shapes`: each template of `doc` with the 500 of the surface serving it.
    pub fn new(doc: &utoipa::openapi::OpenApi, shapes: &[(String, InternalError)]) -> Self {
        let templates = observe::Templates::new(shapes.iter().map(|(template, shape)| (template.as_str(), *shape)));
        let mut allow = HashMap::new();
        for (template, item) in &doc.paths.paths {
            let methods = [
                ("GET", item.get.is_some()),
                ("HEAD", item.get.is_some() || item.head.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("PATCH", item.patch.is_some()),
                ("DELETE", item.delete.is_some()),
                ("OPTIONS", true),
            ];
            let listed: Vec<&str> = methods.iter().filter(|(_, served)| *served).map(|(m, _)| *m).collect();
            if let Ok(v) = HeaderValue::from_str(&listed.join(", ")) {
                allow.insert(template.clone(), v);
            }
        }
        Routes { templates, allow: Arc::new(allow) }
    }
}

/// The whole application: one service, cloned for each connection.
pub type App = BoxCloneSyncService<Request, Response, Infallible>;

/// The whole application as one service: the router (routes, fallbacks, state) inside what
/// every request gets, whatever serves it: a request id, the security and caching headers,
/// compression, the body limits, a tracing span, the access line and metrics, a panic
/// answered in its surface's shape, and CORS.
///
/// These layers wrap the router once, as one stack of plain services, rather than through
/// `Router::layer`, which boxes every route once more per call: a request then cloned a
/// boxed service and boxed a future at every level. What is left per request is the boxed
/// future of the finished stack and the router's own (each connection calls its own copy of
/// the stack in place: see `server::Connection`).
pub fn apply(router: Router, state: &AppState, routes: &Routes) -> App {
    let cors = (!state.config.cors_origins.is_empty()).then(|| {
        let origins: Vec<HeaderValue> = state.config.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, HeaderName::from_static("x-csrftoken")])
            .allow_credentials(true)
    });
    // In a `ServiceBuilder` the first layer is the outermost.
    let stack = ServiceBuilder::new()
        .map_response(|res: Response<_>| with_default_headers(res.map(Body::new)))
        .layer(CompressionLayer::new().gzip(true).compress_when(compressible()))
        // A body that trickles in is cut (its reader then fails as a malformed body).
        .layer(RequestBodyDeadlineLayer::new(server::BODY_DEADLINE))
        .layer(RequestBodyTimeoutLayer::new(server::BODY_IDLE_TIMEOUT))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        // The access line carries the status; a 5xx's cause is logged where it happened.
        .layer(observe::ObserveLayer::new(routes.templates.clone(), state.metrics.clone()))
        .option_layer(cors)
        .service(router);
    BoxCloneSyncService::new(stack)
}

/// The headers of every response: no content-type sniffing, the referrer kept to this site,
/// and, unless the response says otherwise (the web app's pages and assets do), not to be
/// framed nor stored by any cache: most are JSON about a user.
fn with_default_headers(mut res: Response) -> Response {
    let headers = res.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    for (name, value) in [
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        if let header::Entry::Vacant(entry) = headers.entry(name) {
            entry.insert(HeaderValue::from_static(value));
        }
    }
    res
}

/// What is worth compressing: responses of 1 KiB or more (the OpenAPI document, metrics,
/// pages of lists), except what is compressed already (images) or streamed to the user as
/// a download (a stored file, whose bytes are the user's and often compressed).
fn compressible() -> impl Predicate {
    SizeAbove::new(1024).and(NotForContentType::IMAGES).and(NotForContentType::GRPC).and(NotForContentType::SSE).and(
        |_: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
            !headers.contains_key(header::CONTENT_DISPOSITION)
        },
    )
}

/// A surface's path prefix and its 404.
pub type SurfacePrefix = (&'static str, fn() -> Response);

/// The answer of paths no route serves: a permanent, method-keeping redirect to the same
/// path with a trailing slash when that is a route (Django's `APPEND_SLASH`, with 308 so a
/// `POST` stays a `POST`), otherwise 404 in the shape of the surface whose prefix the path
/// has.
#[derive(Clone)]
pub struct Fallback {
    routes: Routes,
    prefixes: Arc<[SurfacePrefix]>,
    /// The web app's answer to every other path ([`super::web::page`]).
    app: fn(&Method, &str) -> Response,
}

impl Fallback {
    /// `prefixes` pair a surface's path prefix with its 404 ([`not_found`]), longest first
    /// where they nest.
    pub fn new(routes: &Routes, prefixes: Vec<SurfacePrefix>, app: fn(&Method, &str) -> Response) -> Self {
        Fallback { routes: routes.clone(), prefixes: prefixes.into(), app }
    }

    fn answer(&self, method: &Method, uri: &Uri) -> Response {
        let path = uri.path();
        if !path.ends_with('/') {
            let with_slash = format!("{path}/");
            if self.routes.templates.route_of(&with_slash).is_some() {
                let location = match uri.query() {
                    Some(q) => format!("{with_slash}?{q}"),
                    None => with_slash,
                };
                if let Ok(location) = HeaderValue::from_str(&location) {
                    return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response();
                }
            }
        }
        if let Some((_, answer)) = self.prefixes.iter().find(|(prefix, _)| path.starts_with(prefix)) {
            return answer();
        }
        if path.starts_with("/api/") || path == "/api" || path.starts_with("/.well-known/") {
            return not_found::<Detail>();
        }
        // Every other path is the web app's: deep links such as `/people/alice` draw it.
        (self.app)(method, path)
    }
}

impl Service<Request> for Fallback {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        ready(Ok(self.answer(req.method(), req.uri())))
    }
}

/// 404 in the shape of the surface whose dialect is `D`.
pub fn not_found<D: Dialect>() -> Response {
    ApiError::<D>::new(StatusCode::NOT_FOUND, "Not found.").into_response()
}

/// A method the route does not serve: 405 in the surface's shape. `OPTIONS` is answered
/// as Django REST framework does: 200, the allowed methods, and what the route reads and
/// writes. `allow` is the route's `Allow` value (axum adds its own when it is missing).
fn method_not_allowed<D: Dialect>(method: Method, allow: Option<HeaderValue>) -> Response {
    let mut res = if method == Method::OPTIONS {
        let body = serde_json::json!({
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        });
        (StatusCode::OK, super::Json(body)).into_response()
    } else {
        ApiError::<D>::new(StatusCode::METHOD_NOT_ALLOWED, format!("Method \"{method}\" not allowed.")).into_response()
    };
    if let Some(allow) = allow {
        res.headers_mut().insert(header::ALLOW, allow);
    }
    res
}

/// A route's body limit: axum's [`DefaultBodyLimit`] for what is read, and a refusal of a
/// body whose `Content-Length` declares more before a byte of it is read, so no
/// `100 Continue` invites a client to send gigabytes that would only be counted and dropped.
pub fn body_limit<D: Dialect>(limit: usize) -> (DefaultBodyLimit, DeclaredLimit<D>) {
    (DefaultBodyLimit::max(limit), DeclaredLimit { limit, dialect: std::marker::PhantomData })
}

/// The `Content-Length` half of [`body_limit`].
pub struct DeclaredLimit<D> {
    limit: usize,
    dialect: std::marker::PhantomData<fn() -> D>,
}

impl<D> Clone for DeclaredLimit<D> {
    fn clone(&self) -> Self {
        DeclaredLimit { limit: self.limit, dialect: self.dialect }
    }
}

impl<D, S> tower::Layer<S> for DeclaredLimit<D> {
    type Service = DeclaredLength<D, S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeclaredLength { inner, limit: self.limit, dialect: self.dialect }
    }
}

/// The service made by [`DeclaredLimit`].
pub struct DeclaredLength<D, S> {
    inner: S,
    limit: usize,
    dialect: std::marker::PhantomData<fn() -> D>,
}

impl<D, S: Clone> Clone for DeclaredLength<D, S> {
    fn clone(&self) -> Self {
        DeclaredLength { inner: self.inner.clone(), limit: self.limit, dialect: self.dialect }
    }
}

impl<D, S> Service<Request> for DeclaredLength<D, S>
where
    D: Dialect,
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures_util::future::Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limit as u64) {
            let res = ApiError::<D>::from(super::body::BodyError::TooLarge).into_response();
            return futures_util::future::Either::Left(ready(Ok(res)));
        }
        futures_util::future::Either::Right(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use axum::{body::to_bytes, routing::get};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;
    use crate::http::{
        problem,
        surfaces::{account, jwt},
    };

    async fn boom() -> &'static str {
        panic!("secret detail")
    }

    /// A router whose one route `/boom` panics, served by `D`'s surface, inside the layer
    /// that observes requests.
    async fn panic_body<D: Dialect>() -> (StatusCode, Value) {
        let doc = utoipa::openapi::OpenApiBuilder::new().build();
        let routes = Routes::new(&doc, &[("/boom".to_string(), problem::internal_error::<D>)]);
        let app = ServiceBuilder::new()
            .layer(observe::ObserveLayer::new(routes.templates.clone(), crate::telemetry::Metrics::new()))
            .service(Router::new().route("/boom", get(boom)));
        let res = app.oneshot(Request::get("/boom").body(Body::empty()).expect("request")).await.expect("response");
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
