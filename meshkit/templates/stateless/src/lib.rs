//! `{{domain}}/{{name}}`: a stateless data product. It reads JSON orders
//! keyed by customer, publishes the large ones (100.00 or more) as JSON, and
//! dead-letters orders with a negative amount. No schema registry is needed:
//! both ports carry plain JSON.

use meshkit::{Context, DeadLetterReason, TransformError};
use serde::{Deserialize, Serialize};

/// An order, as JSON on the input topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Unique order id.
    pub order_id: String,
    /// Amount in cents.
    pub amount_cents: i64,
}

/// A large order, as this product publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LargeOrder {
    /// Unique order id.
    pub order_id: String,
    /// The customer who placed it (the input's key).
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
}

/// Why an order is refused: the dead letter's reason and message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    /// Money does not flow backwards.
    #[error("order {order_id} has amount {amount_cents}")]
    NegativeAmount {
        /// The order.
        order_id: String,
        /// Its amount in cents.
        amount_cents: i64,
    },
}

impl DeadLetterReason for Refused {
    fn code(&self) -> &'static str {
        match self {
            Self::NegativeAmount { .. } => "negative-amount",
        }
    }
}

/// The data product.
#[derive(Debug, Clone, Default)]
pub struct {{Type}};

#[meshkit::product(
    domain = "{{domain}}", name = "{{name}}", version = "0.1.0", owner = "{{owner}}",
    description = "Orders of 100.00 or more, by customer",
    input(orders, topic = "{{domain}}.orders", key = String, value = Order, format = json),
    output(large, topic = "{{domain}}.{{name}}", key = String, value = LargeOrder, format = json),
)]
impl {{Type}} {
    #[transform(orders)]
    fn on_order(customer: &String, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        if order.amount_cents < 0 {
            ctx.dead_letter_for(&Refused::NegativeAmount { order_id: order.order_id.clone(), amount_cents: order.amount_cents });
        } else if order.amount_cents >= 10_000 {
            let large = LargeOrder { order_id: order.order_id.clone(), customer: customer.clone(), amount_cents: order.amount_cents };
            Self::OUT.large.send(ctx, customer, &large)?;
        }
        Ok(())
    }
}

/// Sample input for the demo: `(customer, order, timestamp)`.
pub fn samples() -> Vec<(String, Order, i64)> {
    let start = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    (0..6)
        .map(|i| {
            let order = Order { order_id: format!("o-{i}"), amount_cents: [2_500, 12_000, -5, 40_000, 9_999, 10_000][i] };
            (format!("c-{}", i % 2), order, start + 1_000 * i as i64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use meshkit::testing::TestDriver;

    use super::*;

    fn order(id: &str, amount_cents: i64) -> Order {
        Order { order_id: id.into(), amount_cents }
    }

    #[tokio::test]
    async fn large_orders_are_published_with_their_customer() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("orders", &"c-1".to_string(), &order("o-1", 9_999)).await?;
        driver.pipe("orders", &"c-1".to_string(), &order("o-2", 10_000)).await?;
        let large = driver.read({{Type}}::OUT.large)?;
        assert_eq!(large.len(), 1);
        assert_eq!(large[0].key, "c-1");
        assert_eq!(large[0].value, LargeOrder { order_id: "o-2".into(), customer: "c-1".into(), amount_cents: 10_000 });
        Ok(())
    }

    #[tokio::test]
    async fn negative_amounts_and_malformed_records_are_dead_letters() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("orders", &"c-1".to_string(), &order("o-1", -1)).await?;
        driver.pipe_raw("orders", Some(b"c-1"), Some(b"{not json")).await?;
        let dead = driver.dead_letters();
        assert_eq!(dead.len(), 2);
        let refused = Refused::NegativeAmount { order_id: "o-1".into(), amount_cents: -1 };
        assert!(dead[0].is(&refused));
        assert_eq!(dead[0].message, "order o-1 has amount -1");
        assert_eq!(dead[1].reason, "malformed-json");
        assert!(driver.read({{Type}}::OUT.large)?.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn a_restart_changes_nothing_for_a_stateless_product() -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start({{Type}}).await?;
        driver.pipe("orders", &"c-1".to_string(), &order("o-1", 20_000)).await?;
        driver.restart({{Type}});
        driver.pipe("orders", &"c-2".to_string(), &order("o-2", 30_000)).await?;
        let keys: Vec<String> = driver.read({{Type}}::OUT.large)?.into_iter().map(|r| r.key).collect();
        assert_eq!(keys, ["c-1", "c-2"]);
        Ok(())
    }
}
