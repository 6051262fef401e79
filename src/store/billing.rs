use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqlStore, db_err, micros, on_pool};
use crate::domain::{
    Error, Result,
    model::{
        UserId,
        billing::{BillingChange, CustomerId},
    },
    ports::BillingStore,
};

#[async_trait]
impl BillingStore for SqlStore {
    async fn customer_id(&self, user: UserId) -> Result<Option<CustomerId>> {
        let id: Option<Option<String>> = on_pool!(&self.db, reader, |pool| {
            sqlx::query_scalar("SELECT stripe_customer_id FROM users WHERE id = $1")
                .bind(user.0)
                .fetch_optional(pool)
                .await
                .map_err(db_err)?
        });
        Ok(id.flatten().map(CustomerId))
    }

    async fn link_customer(&self, user: UserId, customer: &CustomerId, now: Timestamp) -> Result<CustomerId> {
        // COALESCE keeps the first customer stored, so two concurrent first checkouts agree.
        let stored: Option<Option<String>> = on_pool!(&self.db, writer, |pool| {
            sqlx::query_scalar(
                "UPDATE users SET stripe_customer_id = COALESCE(stripe_customer_id, $2), updated_at = $3 \
                 WHERE id = $1 RETURNING stripe_customer_id",
            )
            .bind(user.0)
            .bind(&customer.0)
            .bind(micros(now))
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        self.hot.forget(&[user.0]);
        match stored {
            Some(Some(id)) => Ok(CustomerId(id)),
            Some(None) => Err(Error::internal(anyhow::anyhow!("customer id was not stored"))),
            None => Err(Error::NotFound),
        }
    }

    async fn record_event(&self, id: &str, kind: &str, change: Option<&BillingChange>, now: Timestamp) -> Result<bool> {
        let now = micros(now);
        let mut changed: Option<i64> = None;
        let new = on_pool!(&self.db, writer, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            let new = sqlx::query(
                "INSERT INTO stripe_events (id, type, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(kind)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
                == 1;
            if new && let Some(change) = change {
                let mut user: Option<i64> = None;
                if let Some(external_id) = &change.user {
                    user = sqlx::query_scalar("SELECT id FROM users WHERE external_id = $1")
                        .bind(&external_id.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                if user.is_none()
                    && let Some(customer) = &change.customer
                {
                    user = sqlx::query_scalar("SELECT id FROM users WHERE stripe_customer_id = $1")
                        .bind(&customer.0)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                }
                if let Some(user) = user {
                    changed = Some(user);
                    // The customer is linked only to a user without one, and only while no other
                    // user holds it: a conflicting event must not fail (Stripe would redeliver it
                    // for days) nor move a customer between users.
                    sqlx::query(
                        "UPDATE users SET \
                           stripe_customer_id = CASE WHEN $2 AND stripe_customer_id IS NULL \
                             AND NOT EXISTS (SELECT 1 FROM users o WHERE o.stripe_customer_id = $3) \
                             THEN $3 ELSE stripe_customer_id END, \
                           plan = CASE WHEN $4 THEN $5 ELSE plan END, \
                           subscription_status = COALESCE($6, subscription_status), \
                           updated_at = $7 \
                         WHERE id = $1",
                    )
                    .bind(user)
                    .bind(change.link_customer && change.customer.is_some())
                    .bind(change.customer.as_ref().map(|c| c.0.as_str()))
                    .bind(change.plan.is_some())
                    .bind(change.plan.clone().flatten())
                    .bind(change.status.as_deref())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                }
            }
            let committed = tx.commit().await.map_err(db_err);
            // Also after a failed commit, which may have committed before the failure.
            self.hot.forget(changed.as_slice());
            committed?;
            new
        });
        Ok(new)
    }
}
