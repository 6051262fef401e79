//! Logs to stderr (`USERD_LOG` filter) and the Prometheus metrics of one application.

use std::{sync::Arc, time::Duration};

use axum::http::{Method, StatusCode};
use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tracing_subscriber::EnvFilter;

pub fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// The metrics of one application instance. Owned by the instance rather than installed
/// as the process's global recorder, so two instances in one process (the test suite)
/// never count each other's requests.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
}

static METADATA: Metadata<'static> = Metadata::new("userd", Level::INFO, Some(module_path!()));

/// The method as a label value from a closed set, so made-up methods cannot grow `/metrics`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    pub fn new() -> Self {
        Metrics { recorder: Arc::new(PrometheusBuilder::new().build_recorder()) }
    }

    /// One answered request. `route` is the matched route template (a closed set), or `None`.
    pub fn request(&self, method: &Method, route: Option<&str>, status: StatusCode, took: Duration) {
        let labels = vec![
            Label::new("method", method_label(method)),
            Label::new("path", route.unwrap_or("unmatched").to_string()),
            Label::new("status", status.as_u16().to_string()),
        ];
        let counter = Key::from_parts("http_requests_total", labels.clone());
        self.recorder.register_counter(&counter, &METADATA).increment(1);
        let histogram = Key::from_parts("http_request_duration_seconds", labels);
        self.recorder.register_histogram(&histogram, &METADATA).record(took.as_secs_f64());
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
