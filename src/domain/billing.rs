//! Paid plans (document 001's checkout) and the payment provider's events about them.
//!
//! The provider sits behind [`PaymentGateway`]: the domain asks it for customers and
//! checkout sessions, and hands it webhook deliveries to verify and read. What an event
//! changes, and that each event changes it once, is decided here and stored through
//! [`BillingStore`].

use std::sync::Arc;

use tracing::instrument;

use super::{
    clock::Clock,
    crypto,
    error::{Error, Feature, Invalid, Result},
    model::{
        Principal, User,
        billing::{BillingChange, CheckoutSession, CustomerId, EventEffect, NewCheckout, NewCustomer, PlanId},
    },
    ports::{BillingStore, PaymentGateway},
};

/// The offered plans and the provider's price of each (`USERD_STRIPE_PRICES`).
#[derive(Debug, Clone, Default)]
pub struct Plans(Vec<(String, String)>);

impl Plans {
    pub fn new(plan_prices: Vec<(String, String)>) -> Self {
        Plans(plan_prices)
    }

    /// The plan named `raw` (exactly) and its price.
    pub fn parse(&self, raw: &str) -> Result<(PlanId, String), Invalid> {
        let name = raw.trim();
        self.0
            .iter()
            .find(|(plan, _)| plan == name)
            .map(|(plan, price)| (PlanId(plan.clone()), price.clone()))
            .ok_or_else(|| Invalid::Choice { given: name.chars().take(64).collect() })
    }

    /// The plan a price belongs to.
    pub fn by_price(&self, price: &str) -> Option<PlanId> {
        self.0.iter().find(|(_, p)| p == price).map(|(plan, _)| PlanId(plan.clone()))
    }
}

/// Billing settings and the provider.
pub struct BillingSettings {
    pub gateway: Arc<dyn PaymentGateway>,
    pub plans: Plans,
    /// Where the provider's checkout page sends the user back to.
    pub success_url: String,
    pub cancel_url: String,
}

/// Status stored when a checkout was paid for.
pub const ACTIVE: &str = "active";
/// Status stored when a subscription ended.
pub const CANCELED: &str = "canceled";

/// The change an event makes; `None` for events that only get recorded.
pub fn change_for(plans: &Plans, effect: &EventEffect) -> Option<BillingChange> {
    match effect {
        EventEffect::CheckoutCompleted { user, customer, plan, paid } => Some(BillingChange {
            user: user.clone(),
            customer: customer.clone(),
            link_customer: customer.is_some(),
            plan: plan.clone().map(Some),
            status: paid.then(|| ACTIVE.to_string()),
        }),
        EventEffect::SubscriptionChanged { customer, status, price } => Some(BillingChange {
            user: None,
            customer: Some(customer.clone()),
            link_customer: false,
            // A price no plan maps to (one added in the provider's dashboard only) keeps the plan.
            plan: price.as_deref().and_then(|p| plans.by_price(p)).map(|p| Some(p.0)),
            status: Some(status.clone()),
        }),
        EventEffect::SubscriptionEnded { customer } => Some(BillingChange {
            user: None,
            customer: Some(customer.clone()),
            link_customer: false,
            plan: Some(None),
            status: Some(CANCELED.to_string()),
        }),
        EventEffect::None => None,
    }
}

/// Checkout and the provider's events.
#[derive(Clone)]
pub struct Billing {
    store: Arc<dyn BillingStore>,
    settings: Arc<BillingSettings>,
    clock: Arc<dyn Clock>,
}

impl Billing {
    pub fn new(store: Arc<dyn BillingStore>, settings: BillingSettings, clock: Arc<dyn Clock>) -> Self {
        Billing { store, settings: Arc::new(settings), clock }
    }

    /// Opens a subscription checkout for the caller and returns its session. The user's
    /// customer is created on their first checkout and reused afterwards. Provider calls
    /// happen outside any transaction.
    #[instrument(skip_all)]
    pub async fn start_checkout(&self, principal: &Principal, plan: &str) -> Result<CheckoutSession> {
        if !self.settings.gateway.checkout_enabled() {
            return Err(Error::NotConfigured(Feature::Checkout));
        }
        let (plan, price) = self.settings.plans.parse(plan).map_err(|why| Error::invalid("plan", why))?;
        let user = principal.user();
        let customer = self.customer_of(user).await?;
        let checkout = NewCheckout {
            customer,
            plan,
            price,
            user: user.external_id.clone(),
            success_url: self.settings.success_url.clone(),
            cancel_url: self.settings.cancel_url.clone(),
            // One key per checkout asked for: a retry of this request reuses it, a new request
            // (perhaps for another plan) must not get the earlier session back.
            idempotency_key: format!("checkout-{}-{}", user.external_id.0, crypto::random_token(12)?),
        };
        self.settings.gateway.create_checkout_session(&checkout).await
    }

    async fn customer_of(&self, user: &User) -> Result<CustomerId> {
        if let Some(id) = self.store.customer_id(user.id).await? {
            return Ok(id);
        }
        let new = NewCustomer {
            email: user.email.clone(),
            user: user.external_id.clone(),
            idempotency_key: format!("customer-{}", user.external_id.0),
        };
        let created = self.settings.gateway.create_customer(&new).await?;
        // A concurrent checkout may have stored one first; the store keeps the first.
        self.store.link_customer(user.id, &created, self.clock.now()).await
    }

    /// Verifies and applies a webhook delivery. Each event id is applied once: a redelivered
    /// event is acknowledged without changing anything. Returns whether the event was new.
    #[instrument(skip_all)]
    pub async fn handle_payment_event(&self, signature: Option<&str>, payload: &[u8]) -> Result<bool> {
        let now = self.clock.now();
        let event = self.settings.gateway.verify_event(signature, payload, now)?;
        let change = change_for(&self.settings.plans, &event.effect);
        let new = self.store.record_event(&event.id, &event.kind, change.as_ref(), now).await?;
        tracing::info!(event_type = %event.kind, new, "payment event");
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::ExternalId;

    fn plans() -> Plans {
        Plans::new(vec![("pro".into(), "price_pro".into()), ("team".into(), "price_team".into())])
    }

    #[test]
    fn plans_map_names_to_prices_and_back() {
        assert_eq!(plans().parse(" pro ").map(|(p, price)| (p.0, price)), Ok(("pro".into(), "price_pro".into())));
        assert_eq!(plans().parse("gold").err(), Some(Invalid::Choice { given: "gold".into() }));
        assert_eq!(plans().parse("PRO").err(), Some(Invalid::Choice { given: "PRO".into() }), "names are exact");
        assert_eq!(plans().by_price("price_team").map(|p| p.0), Some("team".into()));
        assert_eq!(plans().by_price("price_other"), None);
    }

    #[test]
    fn events_change_plan_and_status_as_documented() {
        let customer = CustomerId("cus_1".into());
        let completed = EventEffect::CheckoutCompleted {
            user: Some(ExternalId("u1".into())),
            customer: Some(customer.clone()),
            plan: Some("pro".into()),
            paid: true,
        };
        let change = change_for(&plans(), &completed).expect("a change");
        assert_eq!(
            (change.plan, change.status.as_deref(), change.link_customer),
            (Some(Some("pro".into())), Some(ACTIVE), true)
        );

        let unpaid = EventEffect::CheckoutCompleted { user: None, customer: None, plan: None, paid: false };
        let change = change_for(&plans(), &unpaid).expect("a change");
        assert_eq!((change.plan, change.status, change.link_customer), (None, None, false), "nothing to set");

        let updated = |price: &str| EventEffect::SubscriptionChanged {
            customer: customer.clone(),
            status: "past_due".into(),
            price: Some(price.into()),
        };
        let change = change_for(&plans(), &updated("price_team")).expect("a change");
        assert_eq!((change.plan, change.status.as_deref()), (Some(Some("team".into())), Some("past_due")));
        let change = change_for(&plans(), &updated("price_unknown")).expect("a change");
        assert_eq!(change.plan, None, "an unmapped price keeps the plan");

        let ended = EventEffect::SubscriptionEnded { customer };
        let change = change_for(&plans(), &ended).expect("a change");
        assert_eq!((change.plan, change.status.as_deref()), (Some(None), Some(CANCELED)));
        assert_eq!(change_for(&plans(), &EventEffect::None), None);
    }
}
