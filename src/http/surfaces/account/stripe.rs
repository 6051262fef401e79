//! Document 001's Stripe checkout (`/api/users/stripe/checkout/`) and the webhook Stripe
//! reports payments to (`/api/users/stripe/webhook/`, fixed by the contract).

use axum::{Json, Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, MessageResponse, TAG, Unauthorized};
use crate::{
    domain::{Error, FieldErrors},
    http::{AppState, auth::Authed, json::JsonObject},
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/stripe/checkout/", post(checkout))
        .route("/api/users/stripe/webhook/", post(webhook))
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CheckoutRequest {
    /// One of the plans configured in `USERD_STRIPE_PRICES`.
    #[schema(example = "pro", min_length = 1)]
    plan: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckoutResponse {
    #[schema(example = "ok")]
    message: &'static str,
    /// For Stripe.js to redirect the browser to the checkout page.
    #[schema(example = "cs_test_a1b2c3d4...")]
    session_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookResponse {
    received: bool,
}

/// Opens a Stripe Checkout session for a subscription to `plan`.
#[utoipa::path(post, path = "/api/users/stripe/checkout/", tag = TAG, request_body = CheckoutRequest,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, body = CheckoutResponse),
        (status = 400, body = MessageResponse, description = "`Unexpected error`: unknown or missing plan (with `errors.plan`), Stripe not configured, or Stripe failed"),
        (status = 401, body = MessageResponse, description = "`Unauthorized`"),
        (status = 403, body = MessageResponse, description = "Session cookie without a matching `X-CSRFToken`"),
        (status = 413, body = MessageResponse, description = "Body over 64 KiB"),
        (status = 415, body = MessageResponse, description = "Body is not `application/json`"),
    ))]
pub async fn checkout(
    State(state): State<AppState>,
    Authed(p, ..): Authed<Unauthorized>,
    JsonObject(f, ..): JsonObject<ApiError>,
) -> Result<Json<CheckoutResponse>, ApiError> {
    let mut errors = FieldErrors::new();
    let plan = f.required_string("plan", &mut errors);
    let (Some(plan), true) = (plan, errors.is_empty()) else {
        return Err(ApiError::fields(errors).with_message("Unexpected error"));
    };
    let session = state.svc.start_checkout(&p, &plan).await.map_err(|e| match e {
        // An account deactivated since its credential was issued reads as this document's 401.
        Error::Unauthenticated(_) => Unauthorized::from(e).0,
        other => ApiError::unexpected(other),
    })?;
    Ok(Json(CheckoutResponse { message: "ok", session_id: session.0 }))
}

/// Receives Stripe's events. The raw body is verified against `Stripe-Signature` before it
/// is read; each event id is applied once, and redeliveries are acknowledged.
#[utoipa::path(post, path = "/api/users/stripe/webhook/", tag = TAG,
    request_body(content = Object, content_type = "application/json", description = "A Stripe event, exactly as Stripe sent it"),
    params(("Stripe-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256>`, as Stripe sends it")),
    responses(
        (status = 200, body = WebhookResponse, description = "Applied, already applied, or not an event userd acts on"),
        (status = 400, body = MessageResponse, description = "`Invalid signature` (missing, wrong, or more than 300 s from now), `Invalid payload`, or the webhook is not configured"),
    ))]
pub async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WebhookResponse>, ApiError> {
    let signature = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    state.svc.handle_payment_event(signature, &body).await?;
    Ok(Json(WebhookResponse { received: true }))
}
