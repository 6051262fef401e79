//! Stripe, spoken over its REST API: the [`PaymentGateway`] of userd.
//!
//! A small client instead of `async-stripe` (still a release candidate, slow to build):
//! two form-encoded POSTs and the webhook signature check are all userd needs.
//! Stripe's error texts are logged, never returned: callers only learn that Stripe failed.

mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use reqwest::{StatusCode, header::HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    config::StripeConfig,
    domain::{
        Error, Result,
        error::Feature,
        model::billing::{CheckoutSession, CustomerId, NewCheckout, NewCustomer, PaymentEvent},
        ports::PaymentGateway,
    },
};

/// Per-request limit for calls to Stripe: a checkout waits for at most a few of these.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before the one retry of a request that failed transiently.
const RETRY_AFTER: Duration = Duration::from_millis(300);

/// The Stripe gateway; checkout needs the secret key, the webhook the signing secret, and
/// either works without the other.
pub struct StripeGateway {
    api: Option<Api>,
    webhook_secret: Option<SecretString>,
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: SecretString,
}

impl StripeGateway {
    pub fn new(config: &StripeConfig) -> anyhow::Result<Self> {
        let api = match &config.secret_key {
            None => None,
            Some(key) => {
                let http = reqwest::Client::builder()
                    .timeout(TIMEOUT)
                    .connect_timeout(Duration::from_secs(5))
                    .user_agent(concat!("userd/", env!("CARGO_PKG_VERSION")))
                    .build()?;
                Some(Api { http, base: config.api_url.trim_end_matches('/').to_string(), key: key.clone() })
            }
        };
        Ok(StripeGateway { api, webhook_secret: config.webhook_secret.clone() })
    }

    fn api(&self) -> Result<&Api> {
        self.api.as_ref().ok_or(Error::NotConfigured(Feature::Checkout))
    }
}

/// What the caller is told about any failure of Stripe; the details go to the log.
fn upstream() -> Error {
    Error::Upstream
}

/// The fields userd reads from Stripe's objects.
#[derive(Deserialize)]
struct Created {
    id: String,
    /// A checkout session's page (Stripe has answered it since 2020).
    #[serde(default)]
    url: Option<String>,
}

/// Stripe's error body: `{"error": {"type": …, "code": …, "message": …}}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    error: StripeError,
}

#[derive(Deserialize, Default)]
struct StripeError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

/// Whether Stripe asks for, or its status allows, a retry with the same idempotency key.
fn retryable(status: StatusCode, headers: &HeaderMap) -> bool {
    match headers.get("stripe-should-retry").and_then(|v| v.to_str().ok()) {
        Some("true") => true,
        Some("false") => false,
        _ => status == StatusCode::CONFLICT || status.is_server_error(),
    }
}

impl Api {
    /// POSTs a form to `path` and reads the created object. Retried once, with the same
    /// idempotency key, when the connection failed or Stripe says the error is transient;
    /// not after a timeout, which would double how long a user waits.
    async fn post<T: DeserializeOwned>(&self, path: &str, idempotency_key: &str, form: &[(&str, &str)]) -> Result<T> {
        let url = format!("{}{path}", self.base);
        for attempt in 0..2 {
            let last = attempt == 1;
            let sent = self
                .http
                .post(&url)
                .bearer_auth(self.key.expose_secret())
                .header("Idempotency-Key", idempotency_key)
                .form(form)
                .send()
                .await;
            let res = match sent {
                Ok(res) => res,
                Err(e) => {
                    tracing::warn!(error = %e, path, "Stripe request failed");
                    if !last && e.is_connect() {
                        tokio::time::sleep(RETRY_AFTER).await;
                        continue;
                    }
                    return Err(upstream());
                }
            };
            let status = res.status();
            let retry = retryable(status, res.headers());
            let body = match res.bytes().await {
                Ok(body) => body,
                Err(e) => {
                    tracing::warn!(error = %e, path, %status, "reading Stripe's answer failed");
                    return Err(upstream());
                }
            };
            if status.is_success() {
                return match serde_json::from_slice::<T>(&body) {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        tracing::warn!(error = %e, path, "Stripe answered with an unexpected body");
                        Err(upstream())
                    }
                };
            }
            let err = serde_json::from_slice::<ErrorBody>(&body).unwrap_or_default().error;
            tracing::warn!(
                path,
                %status,
                error_type = err.kind.as_deref().unwrap_or(""),
                code = err.code.as_deref().unwrap_or(""),
                message = err.message.as_deref().unwrap_or(""),
                "Stripe refused the request"
            );
            if !last && retry {
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
            return Err(upstream());
        }
        Err(upstream())
    }
}

/// An id Stripe returned, checked before it is stored or shown.
/// An `http(s)` address without spaces or controls: the web app sends the browser there.
fn plausible_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn checked_id(id: String, prefix: &str) -> Result<String> {
    let plausible = id.starts_with(prefix)
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plausible {
        Ok(id)
    } else {
        tracing::warn!(prefix, "Stripe returned an id of an unexpected shape");
        Err(upstream())
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn checkout_enabled(&self) -> bool {
        self.api.is_some()
    }

    async fn create_customer(&self, customer: &NewCustomer) -> Result<CustomerId> {
        let form = [("email", customer.email.as_str()), ("metadata[user_id]", customer.user.0.as_str())];
        let created: Created = self.api()?.post("/v1/customers", &customer.idempotency_key, &form).await?;
        Ok(CustomerId(checked_id(created.id, "cus_")?))
    }

    async fn create_checkout_session(&self, checkout: &NewCheckout) -> Result<CheckoutSession> {
        let form = [
            ("mode", "subscription"),
            ("customer", checkout.customer.0.as_str()),
            ("client_reference_id", checkout.user.0.as_str()),
            ("line_items[0][price]", checkout.price.as_str()),
            ("line_items[0][quantity]", "1"),
            ("success_url", checkout.success_url.as_str()),
            ("cancel_url", checkout.cancel_url.as_str()),
            ("metadata[plan]", checkout.plan.as_str()),
            ("metadata[user_id]", checkout.user.0.as_str()),
        ];
        let created: Created = self.api()?.post("/v1/checkout/sessions", &checkout.idempotency_key, &form).await?;
        let url = created.url.filter(|u| plausible_url(u));
        Ok(CheckoutSession { id: checked_id(created.id, "cs_")?, url })
    }

    fn verify_event(&self, signature: Option<&str>, payload: &[u8], now: Timestamp) -> Result<PaymentEvent> {
        let secret = self.webhook_secret.as_ref().ok_or(Error::NotConfigured(Feature::PaymentWebhook))?;
        webhook::verify(secret.expose_secret().as_bytes(), signature, payload, now.as_second())?;
        webhook::parse_event(payload)
    }
}
