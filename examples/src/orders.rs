//! `sales/orders-enriched`: a stateless data product that drops cancelled
//! orders and adds a price band to the others.
//!
//! Input `orders` (topic `sales.orders`): Avro [`Order`]s in the Confluent
//! wire format, keyed by order id. Output `enriched` (topic
//! `sales.orders.enriched`): Avro [`EnrichedOrder`]s. The runtime registers
//! the output schema, checks that [`Order`] can read what the upstream
//! writers registered, and dead-letters any record that does not decode,
//! with its reason, before the transform sees it.

use apache_avro::AvroSchema;
use meshkit::{Context, Record, TransformError};
use serde::{Deserialize, Serialize};

/// An order as the upstream `sales.orders` topic carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, AvroSchema)]
#[avro(namespace = "com.example.sales")]
pub struct Order {
    /// Unique order id.
    pub order_id: String,
    /// The customer who placed it.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// `placed`, `paid` or `cancelled`.
    pub status: String,
}

/// An order with what this product adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, AvroSchema)]
#[avro(namespace = "com.example.sales")]
pub struct EnrichedOrder {
    /// Unique order id.
    pub order_id: String,
    /// The customer who placed it.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// `placed` or `paid`.
    pub status: String,
    /// `small` (< 10.00), `medium` (< 100.00) or `large`.
    pub amount_band: String,
    /// Large paid orders are shipped first.
    pub priority: bool,
}

/// Enriches one order; `None` for orders this product drops.
pub fn enrich(order: &Order) -> Option<EnrichedOrder> {
    if order.status == "cancelled" {
        return None;
    }
    let amount_band = match order.amount_cents {
        ..1_000 => "small",
        1_000..10_000 => "medium",
        _ => "large",
    };
    Some(EnrichedOrder {
        order_id: order.order_id.clone(),
        customer: order.customer.clone(),
        amount_cents: order.amount_cents,
        status: order.status.clone(),
        amount_band: amount_band.to_string(),
        priority: amount_band == "large" && order.status == "paid",
    })
}

/// The data product, declared with the DSL.
#[derive(Debug, Clone, Default)]
pub struct OrdersEnriched {
    /// Print each record consumed and produced (for the demo).
    pub verbose: bool,
}

#[meshkit::product(
    domain = "sales",
    name = "orders-enriched",
    version = "1.1.0",
    owner = "team-sales@example.com",
    description = "Open orders with their price band and shipping priority",
    input(orders, topic = "sales.orders", key = String, value = Order),
    output(enriched, topic = "sales.orders.enriched", key = String, value = EnrichedOrder),
)]
impl OrdersEnriched {
    #[transform(orders, record)]
    fn on_order(
        &mut self,
        record: &Record<'_>,
        order_id: &String,
        order: &Order,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        if self.verbose {
            println!(
                "consumed  {}[{}]@{}: {order:?}",
                record.topic(),
                record.partition(),
                record.offset()
            );
        }
        if let Some(enriched) = enrich(order) {
            if self.verbose {
                println!("produced  sales.orders.enriched: {enriched:?}");
            }
            Self::OUT.enriched.send(ctx, order_id, &enriched)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use meshkit::testing::TestDriver;

    use super::*;

    fn order(status: &str, amount_cents: i64) -> Order {
        Order {
            order_id: "o-1".into(),
            customer: "c-1".into(),
            amount_cents,
            status: status.into(),
        }
    }

    #[test]
    fn cancelled_orders_are_dropped() {
        assert_eq!(enrich(&order("cancelled", 5)), None);
    }

    #[test]
    fn bands_and_priority() {
        let e = enrich(&order("paid", 999)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("small", false));
        let e = enrich(&order("placed", 50_000)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("large", false));
        let e = enrich(&order("paid", 50_000)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("large", true));
    }

    #[tokio::test]
    async fn open_orders_are_published_enriched_and_cancelled_ones_dropped(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start(OrdersEnriched::default()).await?;
        driver
            .pipe("orders", &"o-1".to_string(), &order("paid", 2_000))
            .await?;
        driver
            .pipe("orders", &"o-2".to_string(), &order("cancelled", 10))
            .await?;
        let out = driver.read(OrdersEnriched::OUT.enriched)?;
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, "o-1");
        assert_eq!(out[0].value.amount_band, "medium");
        assert!(driver.dead_letters().is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn records_that_are_not_avro_orders_are_dead_letters_with_their_reason(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let mut driver = TestDriver::start(OrdersEnriched::default()).await?;
        driver
            .pipe_raw("orders", Some(b"o-json"), Some(br#"{"order_id": "o-json"}"#))
            .await?;
        driver
            .pipe_raw("orders", Some(b"o-unknown"), Some(&[0, 0, 0, 0x10, 0x92, 2]))
            .await?;
        driver
            .pipe_raw("orders", Some(&[0xff, 0xfe]), Some(&[0, 0, 0, 0x10, 0x92, 2]))
            .await?;
        let reasons: Vec<String> = driver.dead_letters().into_iter().map(|d| d.reason).collect();
        assert_eq!(
            reasons,
            ["bad-magic", "unknown-schema-id", "key-malformed-string"]
        );
        assert!(driver.read(OrdersEnriched::OUT.enriched)?.is_empty());
        Ok(())
    }
}
