//! Document 001's Stripe checkout (`/api/users/stripe/checkout/`) and the webhook Stripe
//! reports payments to (`/api/users/stripe/webhook/`, fixed by the contract).

use axum::{
    Router,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, MessageResponse, TAG, Unauthorized, error::unexpected};
use crate::http::Json;
use crate::{
    domain::FieldErrors,
    http::{
        AppState,
        auth::Authed,
        body::{Body, BodyError, Format, Input},
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/stripe/checkout/", post(checkout))
        .route("/api/users/stripe/webhook/", post(webhook))
}

#[derive(Deserialize, ToSchema)]
pub struct CheckoutRequest {
    /// One of the plans configured in `USERD_STRIPE_PRICES`.
    #[serde(default)]
    #[schema(required = true, value_type = String, example = "pro", min_length = 1)]
    plan: Input,
}

impl CheckoutRequest {
    /// The plan name as sent; whether it is offered is the domain's to say.
    fn plan(&self) -> Result<String, FieldErrors> {
        let mut errors = FieldErrors::new();
        let plan = self.plan.required("plan", &mut errors);
        errors.into_result(plan)
    }
}

#[derive(Serialize, ToSchema)]
pub struct CheckoutResponse {
    #[schema(example = "ok")]
    message: &'static str,
    /// For Stripe.js to redirect the browser to the checkout page.
    #[schema(example = "cs_test_a1b2c3d4...")]
    session_id: String,
    /// Stripe's checkout page for this session, where the web app sends the browser
    /// (no Stripe.js needed); absent when Stripe did not give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "https://checkout.stripe.com/c/pay/cs_test_a1b2c3d4...")]
    url: Option<String>,
}

/// A Stripe event, as Stripe sends it; fields not named here are ignored.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only: the webhook checks the raw bytes' signature before parsing them")]
pub struct StripeEvent {
    #[schema(example = "evt_1NG8Du2eZvKYlo2CUI79vXWy")]
    id: String,
    /// `checkout.session.completed` and `customer.subscription.created`, `.updated` and
    /// `.deleted` are acted on; other events are acknowledged and ignored.
    #[schema(rename = "type", example = "checkout.session.completed")]
    kind: String,
    data: StripeEventData,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub struct StripeEventData {
    /// The object the event is about: a Checkout session or a subscription.
    #[schema(value_type = Object)]
    object: (),
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    /// Always `true`: the event was taken.
    received: bool,
}

/// Opens a Stripe Checkout session for a subscription to `plan`.
#[utoipa::path(post, path = "/api/users/stripe/checkout/", tag = TAG, operation_id = "account_stripe_checkout", request_body = CheckoutRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = CheckoutResponse, description = "The Checkout session to redirect the browser to"),
        (status = 400, body = MessageResponse, description = "`Unexpected error`: unknown or missing plan (with `errors.plan`), Stripe not configured, or Stripe failed"),
        (status = 401, body = MessageResponse, description = "Missing or invalid credentials (`Unauthorized`)"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not JSON, a URL-encoded form or multipart"),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    Authed(p, ..): Authed<Unauthorized>,
    Body(req, ..): Body<CheckoutRequest, Unauthorized>,
) -> Result<Json<CheckoutResponse>, Unauthorized> {
    let plan = req.plan().map_err(|e| unexpected(e.into()))?;
    let session = state.domain.billing.start_checkout(&p, &plan).await.map_err(unexpected)?;
    Ok(Json(CheckoutResponse { message: "ok", session_id: session.id, url: session.url }))
}

/// Receives Stripe's events.
///
/// Public (Stripe signs its requests). The raw body is verified against `Stripe-Signature`
/// before it is read; each event id is applied once, and redeliveries are acknowledged.
#[utoipa::path(post, path = "/api/users/stripe/webhook/", tag = TAG, operation_id = "account_stripe_webhook",
    request_body(content = StripeEvent, content_type = "application/json", description = "A Stripe event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`, as Stripe sends it")),
    responses(
        (status = 200, body = WebhookResponse, description = "Applied, already applied, or not an event userd acts on"),
        (status = 400, body = MessageResponse, description = "`Invalid signature` (missing, wrong, or more than 300 s from now), `Invalid payload`, or the webhook is not configured"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
    ))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhookResponse>, ApiError> {
    let body = body.map_err(|r| {
        ApiError::from(if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Malformed(Format::Json)
        })
    })?;
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    state.domain.billing.handle_payment_event(signature, &body).await?;
    Ok(Json(WebhookResponse { received: true }))
}
