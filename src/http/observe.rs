//! What every request gets before anything else, in one plain tower service (no boxed
//! future, no cloned boxed service per request): its request id and its observation (the
//! tracing span its log lines carry, the access line and the metrics).
//!
//! It sits outside the router, so it names a request's route by matching its path
//! against the route templates themselves (the OpenAPI document's, plus the few routes it
//! does not describe) rather than reading axum's `MatchedPath`, which only the router's own
//! layers see.

use std::{
    cell::Cell,
    collections::BTreeSet,
    convert::Infallible,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Instant,
};

use aws_lc_rs::cipher::{AES_128, EncryptingKey, UnboundCipherKey};
use axum::{
    http::{HeaderName, HeaderValue},
    response::Response,
};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use super::{
    problem::{Detail, InternalError, internal_error},
    surfaces::account,
};
use crate::telemetry::{Metrics, method_label};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Routes served but not described in the OpenAPI document: the API's own description and
/// its docs page (operational, so in the bare `{"detail": …}` shape), and the web app's
/// assets (in the web app's, 000/001's).
const UNDESCRIBED: [(&str, InternalError); 5] = [
    ("/api/openapi.json", internal_error::<Detail>),
    ("/api/docs", internal_error::<Detail>),
    ("/api/docs/", internal_error::<Detail>),
    ("/api/docs/{*rest}", internal_error::<Detail>),
    ("/assets/{version}/{*path}", internal_error::<account::Dialect>),
];

/// A route template, and the 500 of the surface that serves it.
pub struct Route {
    pub template: &'static str,
    pub internal_error: InternalError,
}

/// `template`, kept for the life of the process. Templates come from the code (the OpenAPI
/// document and [`UNDESCRIBED`]), never from a request, so every application a process
/// builds (the test suite builds hundreds) shares the same few hundred strings; and a
/// request names its route with no reference count shared by every core.
fn interned(template: &str) -> &'static str {
    static KEPT: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(kept) = kept.get(template) {
        return kept;
    }
    let new: &'static str = Box::leak(template.into());
    kept.insert(new);
    new
}

/// Route templates, to name the route of a request path and the surface it belongs to.
#[derive(Clone)]
pub struct Templates(Arc<matchit::Router<Route>>);

impl Templates {
    /// `described`: every template of the OpenAPI document with its surface's 500.
    pub fn new<'a>(described: impl IntoIterator<Item = (&'a str, InternalError)>) -> Self {
        let mut router = matchit::Router::new();
        for (template, internal_error) in described.into_iter().chain(UNDESCRIBED) {
            // Two templates that overlap name the same requests; the first is enough.
            let _ = router.insert(template, Route { template: interned(template), internal_error });
        }
        Templates(Arc::new(router))
    }

    /// The route that `path` matches, if any.
    pub fn route_of(&self, path: &str) -> Option<&Route> {
        self.0.at(path).ok().map(|m| m.value)
    }
}

// --- request ids -------------------------------------------------------------------------

/// Whether a client's request id is kept: only when it is short and plain, 1 to 64
/// letters, digits, `-`, `_` or `.`. Any other is replaced, so no client can pad or forge
/// log lines through it.
fn is_plain(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len()) && b.iter().all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
}

/// A new request id, in the form of a UUID (version 8, RFC 9562's layout for ids made to
/// one's own recipe): a counter encrypted with AES under a key drawn once per process. Ids
/// are unique on a node (AES is a permutation) and, with overwhelming probability, across
/// nodes; they look random, so they tell a client nothing about how many requests a node
/// has served; and no randomness is drawn per request.
fn new_request_id() -> HeaderValue {
    static KEY: OnceLock<Option<EncryptingKey>> = OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).ok()?;
        EncryptingKey::ecb(UnboundCipherKey::new(&AES_128, &bytes).ok()?).ok()
    });
    let n = next_count();
    let mut raw = [0u8; 16];
    raw[8..].copy_from_slice(&n.to_be_bytes());
    // Without a key (the system's randomness failed), the counter alone is still unique.
    if let Some(key) = key {
        let _ = key.encrypt(&mut raw);
    }
    raw[6] = (raw[6] & 0x0f) | 0x80; // version 8
    raw[8] = (raw[8] & 0x3f) | 0x80; // the RFC's variant
    let mut text = [b'-'; 36];
    let groups = [(0..4, 0..8), (4..6, 9..13), (6..8, 14..18), (8..10, 19..23), (10..16, 24..36)];
    for (bytes, chars) in groups {
        // Each group's text is exactly twice its bytes long, so this cannot fail.
        let _ = hex::encode_to_slice(&raw[bytes], &mut text[chars]);
    }
    // Hex digits and dashes are always a valid header value; the fallback is never taken.
    HeaderValue::from_bytes(&text).unwrap_or(HeaderValue::from_static("0"))
}

/// Numbers no two calls in the process share. Each thread takes a block of them at a time,
/// so the counter every core would otherwise update for every request is touched once
/// every [`BLOCK`] requests.
fn next_count() -> u64 {
    const BLOCK: u64 = 1024;
    static BLOCKS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        /// The next number of this thread's block, and the end of the block.
        static MINE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    MINE.with(|mine| {
        let (mut next, mut end) = mine.get();
        if next == end {
            next = BLOCKS.fetch_add(1, Ordering::Relaxed).wrapping_mul(BLOCK);
            end = next + BLOCK;
        }
        mine.set((next + 1, end));
        next
    })
}

// --- span, access line, metrics, panics ---------------------------------------------------

/// Gives each request an `x-request-id` (the client's own when [`is_plain`], so a proxy's id
/// follows the request through) and returns it on the response; serves the request inside
/// a `request` span (method, route template and request id, so every line logged while it
/// is served carries them; never the path's values, the query string or another header),
/// then writes its access line (`info`, with the status and the time taken) and counts and
/// times it in the metrics. A panic while serving it answers the
/// 500 of the route's surface, in that surface's shape and with nothing of its cause (the
/// bare `{"detail": …}` where no route matched).
#[derive(Clone)]
pub struct ObserveLayer {
    templates: Templates,
    metrics: Metrics,
}

impl ObserveLayer {
    pub fn new(templates: Templates, metrics: Metrics) -> Self {
        ObserveLayer { templates, metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner, layer: self.clone() }
    }
}

/// The service made by [`ObserveLayer`].
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S, B> Service<axum::http::Request<B>> for Observe<S>
where
    S: Service<axum::http::Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        let start = Instant::now();
        let method = method_label(req.method());
        let (route, internal_error) = match self.layer.templates.route_of(req.uri().path()) {
            Some(r) => (Some(r.template), r.internal_error),
            None => (None, internal_error::<Detail> as InternalError),
        };
        let id = match req.headers().get(REQUEST_ID) {
            Some(v) if is_plain(v) => v.clone(),
            _ => new_request_id(),
        };
        let span = request_span(&id, method, route);
        let inner = {
            let _entered = span.enter();
            match std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
                Ok(future) => Serving::Running { future },
                Err(_) => Serving::Panicked,
            }
        };
        Observed {
            inner,
            span,
            start,
            method,
            route,
            id: Some(id),
            internal_error,
            metrics: self.layer.metrics.clone(),
        }
    }
}

fn request_span(id: &HeaderValue, method: &'static str, route: Option<&str>) -> Span {
    // A request id is always plain ASCII (see `is_plain`).
    let id = id.to_str().unwrap_or("");
    let route = route.unwrap_or("unmatched");
    tracing::info_span!("request", method = %method, route = %route, request_id = %id)
}

pin_project! {
    /// The inner service's future, unless making it panicked.
    #[project = ServingProj]
    pub enum Serving<F> {
        Running { #[pin] future: F },
        Panicked,
    }
}

pin_project! {
    /// The response future of [`Observe`].
    pub struct Observed<F> {
        #[pin]
        inner: Serving<F>,
        span: Span,
        start: Instant,
        method: &'static str,
        route: Option<&'static str>,
        id: Option<HeaderValue>,
        internal_error: InternalError,
        metrics: Metrics,
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut res = match this.inner.project() {
            // A future that panicked is never polled again: this one answers now.
            ServingProj::Running { future } => match std::panic::catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(Ok(res))) => res,
                Err(_) => (this.internal_error)(),
            },
            ServingProj::Panicked => (this.internal_error)(),
        };
        let took = this.start.elapsed();
        // Milliseconds with microsecond precision, as a number (JSON) that is short to read (text).
        let ms = took.as_micros() as f64 / 1000.0;
        tracing::info!(status = res.status().as_u16(), ms, "access");
        this.metrics.request(this.method, *this.route, res.status(), took);
        if let Some(id) = this.id.take()
            && !res.headers().contains_key(REQUEST_ID)
        {
            res.headers_mut().insert(REQUEST_ID, id);
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_request_ids_are_distinct_version_8_uuids_that_do_not_count_requests() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        // Consecutive ids differ throughout, not in their last digits (a chance of 2^-32 to fail).
        assert_ne!(a.as_bytes()[..8], b.as_bytes()[..8], "{a:?} {b:?}");
        for id in [a, b] {
            let text = id.to_str().expect("ascii");
            let groups: Vec<&str> = text.split('-').collect();
            assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12], "{text}");
            assert!(text.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{text}");
            assert!(groups[2].starts_with('8'), "version 8: {text}");
            assert!(matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "RFC variant: {text}");
        }
    }

    #[test]
    fn a_path_is_named_by_its_template_never_by_its_values() {
        let shape: InternalError = internal_error::<Detail>;
        let templates = Templates::new([("/api/files/{id}/", shape), ("/api/users/status/", shape)]);
        let name = |path| templates.route_of(path).map(|r| r.template.to_string());
        assert_eq!(name("/api/files/secret-value/").as_deref(), Some("/api/files/{id}/"));
        assert_eq!(name("/api/users/status/").as_deref(), Some("/api/users/status/"));
        assert_eq!(name("/assets/abc/app.js").as_deref(), Some("/assets/{version}/{*path}"));
        assert_eq!(name("/no/such/path"), None);
        assert_eq!(name("/api/users/status"), None, "no trailing slash is another path");
    }
}
