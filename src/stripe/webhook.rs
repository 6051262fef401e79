//! Stripe's webhook deliveries: the `Stripe-Signature` check and the events userd reads.
//!
//! The signature is an HMAC-SHA256, keyed with the whole `whsec_…` string as Stripe's own
//! libraries use it, over `"{t}.{raw body}"`; the header carries `t=<unix seconds>` and one
//! `v1=<hex>` per active secret (two while a secret is being rolled).

use aws_lc_rs::hmac;
use serde::Deserialize;
use serde_json::Value;

use crate::domain::{
    Error, Invalid, Result, crypto,
    model::{
        ExternalId,
        billing::{CustomerId, EventEffect, PaymentEvent},
    },
};

/// How far the signed timestamp may be from now, either way, before a delivery is refused
/// as a replay (Stripe's libraries use the same default).
pub const TOLERANCE_SECS: i64 = 300;

/// Checks `header` against `payload`; any problem is `Error::InvalidSignature`.
pub fn verify(secret: &[u8], header: Option<&str>, payload: &[u8], now: i64) -> Result<()> {
    let header = header.ok_or(Error::InvalidSignature)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for item in header.split(',') {
        match item.trim().split_once('=') {
            Some(("t", v)) if timestamp.is_none() => timestamp = Some(v.trim()),
            // Other schemes (`v0`, used for test payloads) are ignored, as Stripe's libraries do.
            Some(("v1", v)) => candidates.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or(Error::InvalidSignature)?;
    let Ok(seconds) = t.parse::<i64>() else { return Err(Error::InvalidSignature) };
    if candidates.is_empty() || now.abs_diff(seconds) > TOLERANCE_SECS.unsigned_abs() {
        return Err(Error::InvalidSignature);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    // Signed as sent, so the text is exactly what Stripe signed.
    ctx.update(t.as_bytes());
    ctx.update(b".");
    ctx.update(payload);
    let expected = ctx.sign();
    if candidates.iter().any(|c| crypto::ct_eq(expected.as_ref(), c)) { Ok(()) } else { Err(Error::InvalidSignature) }
}

#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: Value,
}

/// A reference to another object: its id, or the object itself when expanded.
#[derive(Deserialize)]
#[serde(untagged)]
enum Reference {
    Id(String),
    Object { id: String },
}

impl Reference {
    fn customer(r: Option<Reference>) -> Option<CustomerId> {
        let id = match r? {
            Reference::Id(id) | Reference::Object { id } => id,
        };
        (!id.is_empty()).then_some(CustomerId(id))
    }
}

#[derive(Deserialize)]
struct CheckoutSession {
    client_reference_id: Option<String>,
    customer: Option<Reference>,
    #[serde(default)]
    metadata: Option<Metadata>,
    payment_status: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    plan: Option<String>,
}

#[derive(Deserialize)]
struct Subscription {
    customer: Option<Reference>,
    status: Option<String>,
    items: Option<List<SubscriptionItem>>,
}

#[derive(Deserialize)]
struct List<T> {
    data: Vec<T>,
}

#[derive(Deserialize)]
struct SubscriptionItem {
    price: Option<Price>,
}

#[derive(Deserialize)]
struct Price {
    id: String,
}

fn invalid_payload() -> Error {
    Error::invalid("payload", Invalid::Payload)
}

fn object<T: for<'de> Deserialize<'de>>(v: Value) -> Result<T> {
    serde_json::from_value(v).map_err(|_| invalid_payload())
}

/// Reads a verified payload. Event types userd does not act on become `EventEffect::None`,
/// as do subscription events without a customer.
pub fn parse_event(payload: &[u8]) -> Result<PaymentEvent> {
    let event: Event = serde_json::from_slice(payload).map_err(|_| invalid_payload())?;
    if event.id.is_empty() || event.id.len() > 255 || event.kind.len() > 255 {
        return Err(invalid_payload());
    }
    let effect = match event.kind.as_str() {
        "checkout.session.completed" => {
            let s: CheckoutSession = object(event.data.object)?;
            EventEffect::CheckoutCompleted {
                user: s.client_reference_id.filter(|id| !id.is_empty()).map(ExternalId),
                customer: Reference::customer(s.customer),
                plan: s.metadata.and_then(|m| m.plan).filter(|p| !p.is_empty()),
                paid: s.payment_status.as_deref() == Some("paid") || s.status.as_deref() == Some("complete"),
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" => {
            let s: Subscription = object(event.data.object)?;
            match (Reference::customer(s.customer), s.status) {
                (Some(customer), Some(status)) => EventEffect::SubscriptionChanged {
                    customer,
                    status,
                    price: s.items.and_then(|l| l.data.into_iter().next()).and_then(|i| i.price).map(|p| p.id),
                },
                _ => EventEffect::None,
            }
        }
        "customer.subscription.deleted" => {
            let s: Subscription = object(event.data.object)?;
            match Reference::customer(s.customer) {
                Some(customer) => EventEffect::SubscriptionEnded { customer },
                None => EventEffect::None,
            }
        }
        _ => EventEffect::None,
    };
    Ok(PaymentEvent { id: event.id, kind: event.kind, effect })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_700_000_000;

    fn sign(secret: &[u8], t: i64, payload: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(payload);
        hex::encode(hmac::sign(&key, &signed).as_ref())
    }

    #[test]
    fn a_correct_recent_signature_is_accepted() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(SECRET, NOW, body);
        for header in [
            format!("t={NOW},v1={good}"),
            format!("t={NOW},v1={},v1={good}", "ab".repeat(32)),
            format!("t={NOW}, v0=00, v1={good}"),
            format!("t={},v1={}", NOW - 300, sign(SECRET, NOW - 300, body)),
        ] {
            assert!(verify(SECRET, Some(&header), body, NOW).is_ok(), "{header}");
        }
    }

    #[test]
    fn every_bad_signature_is_refused() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(SECRET, NOW, body);
        let cases = [
            (None, "no header"),
            (Some(String::new()), "empty header"),
            (Some(format!("v1={good}")), "no timestamp"),
            (Some(format!("t={NOW}")), "no signature"),
            (Some(format!("t={NOW},v0={good}")), "only a v0 signature"),
            (Some(format!("t=abc,v1={good}")), "timestamp not a number"),
            (Some(format!("t={NOW},v1=zz{}", &good[2..])), "signature not hex"),
            (Some(format!("t={NOW},v1={}", sign(b"whsec_other", NOW, body))), "other secret"),
            (Some(format!("t={NOW},v1={}", sign(SECRET, NOW, b"{}"))), "other body"),
            (Some(format!("t={},v1={good}", NOW + 1)), "timestamp not the signed one"),
            (Some(format!("t={},v1={}", NOW - 301, sign(SECRET, NOW - 301, body))), "too old"),
            (Some(format!("t={},v1={}", NOW + 301, sign(SECRET, NOW + 301, body))), "too far ahead"),
        ];
        for (header, why) in cases {
            assert!(matches!(verify(SECRET, header.as_deref(), body, NOW), Err(Error::InvalidSignature)), "{why}");
        }
    }

    #[test]
    fn events_are_read_into_their_effects() {
        let completed = br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{
            "client_reference_id":"u1","customer":"cus_1","metadata":{"plan":"pro"},"payment_status":"paid","status":"complete"}}}"#;
        let e = parse_event(completed).expect("event");
        assert_eq!(
            e.effect,
            EventEffect::CheckoutCompleted {
                user: Some(ExternalId("u1".into())),
                customer: Some(CustomerId("cus_1".into())),
                plan: Some("pro".into()),
                paid: true
            }
        );
        let updated = br#"{"id":"evt_2","type":"customer.subscription.updated","data":{"object":{
            "customer":{"id":"cus_1","object":"customer"},"status":"past_due","items":{"data":[{"price":{"id":"price_team"}}]}}}}"#;
        assert_eq!(
            parse_event(updated).expect("event").effect,
            EventEffect::SubscriptionChanged {
                customer: CustomerId("cus_1".into()),
                status: "past_due".into(),
                price: Some("price_team".into())
            }
        );
        let other = br#"{"id":"evt_3","type":"invoice.paid","data":{"object":{"id":"in_1"}}}"#;
        assert_eq!(parse_event(other).expect("event").effect, EventEffect::None);
        for bad in [&b"not json"[..], br#"{"id":"evt_4"}"#, br#"{"id":"","type":"x","data":{"object":{}}}"#] {
            assert!(matches!(parse_event(bad), Err(Error::Validation(_))));
        }
    }
}
