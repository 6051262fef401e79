//! Logs to stderr (`USERD_LOG` filter, `USERD_LOG_FORMAT`) and the Prometheus metrics of one application.

use std::{
    collections::HashMap,
    io::IsTerminal,
    sync::{Arc, RwLock},
    time::Duration,
};

use axum::http::{Method, StatusCode};
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Logs to stderr. Text is coloured only when stderr is a terminal, so a file or a pipe gets
/// no escape codes; JSON is one object per line, the event's fields at the top level and the
/// request's (method, route, request id) under `span`.
pub fn init_logging(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(format == LogFormat::Text && std::io::stderr().is_terminal());
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_span_list(false).try_init(),
    };
}

/// Prints a line that must reach stderr whatever `USERD_LOG` filters: the address scripts wait
/// for, or the error that stops the program. Text is the bare line; JSON an object like the
/// log's, so a log shipper reads every line of the stream.
pub fn print(format: LogFormat, level: tracing::Level, line: &str) {
    match format {
        LogFormat::Text => eprintln!("{line}"),
        LogFormat::Json => {
            let at = format!("{:.6}", jiff::Timestamp::now());
            eprintln!("{}", serde_json::json!({"timestamp": at, "level": level.as_str(), "message": line}));
        }
    }
}

/// The metrics of one application instance. Owned by the instance rather than installed
/// as the process's global recorder, so two instances in one process (the test suite)
/// never count each other's requests. One shared allocation, so the copy each request's
/// observation holds is a single reference count.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    recorder: PrometheusRecorder,
    /// The counter and histogram of each (route, method, status) met so far, so a request
    /// only looks them up (routes, methods and statuses are closed sets).
    handles: RwLock<Handles>,
}

/// Route → (method, status) → handles.
type Handles = HashMap<Box<str>, HashMap<(&'static str, u16), (Counter, Histogram)>>;

static METADATA: Metadata<'static> = Metadata::new("userd", Level::INFO, Some(module_path!()));

/// The method as a label value from a closed set, so made-up methods cannot grow `/metrics`
/// (nor lengthen a log line).
pub(crate) fn method_label(method: &Method) -> &'static str {
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
        Metrics(Arc::new(Inner { recorder: PrometheusBuilder::new().build_recorder(), handles: RwLock::default() }))
    }

    /// One answered request. `method` is its [`method_label`]; `route` is the matched route
    /// template (a closed set), or `None`.
    pub fn request(&self, method: &'static str, route: Option<&str>, status: StatusCode, took: Duration) {
        let route = route.unwrap_or("unmatched");
        let status = status.as_u16();
        let took = took.as_secs_f64();
        // Counted under the read lock: no handle is copied for a request.
        if let Ok(known) = self.0.handles.read()
            && let Some((counter, histogram)) = known.get(route).and_then(|h| h.get(&(method, status)))
        {
            counter.increment(1);
            histogram.record(took);
            return;
        }
        let (counter, histogram) = self.register(method, route, status);
        counter.increment(1);
        histogram.record(took);
        if let Ok(mut h) = self.0.handles.write() {
            h.entry(route.into()).or_default().insert((method, status), (counter, histogram));
        }
    }

    fn register(&self, method: &'static str, route: &str, status: u16) -> (Counter, Histogram) {
        let labels = vec![
            Label::new("method", method),
            Label::new("path", route.to_string()),
            Label::new("status", status.to_string()),
        ];
        let counter = Key::from_parts("http_requests_total", labels.clone());
        let histogram = Key::from_parts("http_request_duration_seconds", labels);
        (
            self.0.recorder.register_counter(&counter, &METADATA),
            self.0.recorder.register_histogram(&histogram, &METADATA),
        )
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        self.0.recorder.handle().render()
    }

    /// Folds the timings recorded since the last call into their histograms. The recorder
    /// keeps every sample until then, so without it a node that is never scraped would grow
    /// by eight bytes a request.
    pub fn upkeep(&self) {
        self.0.recorder.handle().run_upkeep();
    }

    /// Runs [`Metrics::upkeep`] every `every` until the last handle of these metrics is
    /// dropped (the application with them).
    pub fn spawn_upkeep(&self, every: Duration) {
        let metrics = Arc::downgrade(&self.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match metrics.upgrade() {
                    Some(metrics) => metrics.recorder.handle().run_upkeep(),
                    None => return,
                }
            }
        });
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timings_folded_by_the_upkeep_are_all_still_counted() {
        let metrics = Metrics::new();
        for _ in 0..1000 {
            metrics.request("GET", Some("/api/users/status/"), StatusCode::OK, Duration::from_micros(100));
        }
        metrics.upkeep();
        metrics.request("GET", Some("/api/users/status/"), StatusCode::OK, Duration::from_micros(100));
        metrics.spawn_upkeep(Duration::from_millis(10));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let text = metrics.render();
        let line = |name: &str| text.lines().find(|l| l.starts_with(name)).map(str::to_owned);
        assert!(line("http_request_duration_seconds_count").is_some_and(|l| l.ends_with(" 1001")), "{text}");
        assert!(line("http_requests_total").is_some_and(|l| l.ends_with(" 1001")), "{text}");
    }
}
