//! Plans, customers, checkouts and payment events, as the billing area and its ports see them.

use super::types::ExternalId;

/// The provider's id of a customer (Stripe's `cus_…`); one per user, created once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerId(pub String);

/// A checkout session the provider opened: its id (Stripe's `cs_…`) and, when the
/// provider gives one, the page to send the browser to (Stripe's `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
}

/// A plan the configuration offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanId(pub(in crate::domain) String);

impl PlanId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer to create for a user.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    pub email: String,
    pub user: ExternalId,
    /// The same for every attempt for this user, so a retried creation cannot make a second customer.
    pub idempotency_key: String,
}

/// A subscription checkout to open.
#[derive(Debug, Clone)]
pub struct NewCheckout {
    pub customer: CustomerId,
    pub plan: PlanId,
    pub price: String,
    pub user: ExternalId,
    pub success_url: String,
    pub cancel_url: String,
    pub idempotency_key: String,
}

/// A verified webhook event, read into what the domain cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The provider's event id; an event is applied once per id.
    pub id: String,
    /// The provider's event type, kept with the id.
    pub kind: String,
    pub effect: EventEffect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    /// A checkout finished: `plan` is the one the checkout was opened for.
    CheckoutCompleted {
        user: Option<ExternalId>,
        customer: Option<CustomerId>,
        plan: Option<String>,
        paid: bool,
    },
    /// A subscription started or changed; `price` is its first item's price.
    SubscriptionChanged {
        customer: CustomerId,
        status: String,
        price: Option<String>,
    },
    SubscriptionEnded {
        customer: CustomerId,
    },
    /// Recorded, changes nothing.
    None,
}

/// What an event changes on one user. The user is found by external id first, then by
/// customer id; an event about an unknown user changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingChange {
    pub user: Option<ExternalId>,
    pub customer: Option<CustomerId>,
    /// Store `customer` on the user when they have none yet.
    pub link_customer: bool,
    /// `None` keeps the plan; `Some(None)` clears it.
    pub plan: Option<Option<String>>,
    /// `None` keeps the status.
    pub status: Option<String>,
}
