//! `sales/orders-enriched`: a stateless data product that drops cancelled
//! orders and adds a price band to the others.
//!
//! Input `orders` (topic `sales.orders`): JSON orders keyed by order id.
//! Output `enriched` (topic `sales.orders.enriched`): the same orders with
//! `amount_band` and `priority`. A record that is not a valid order fails the
//! transform and lands in the dead-letter topic with its reason.

use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
use serde::{Deserialize, Serialize};

/// An order as the upstream `sales.orders` topic carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    /// Unique order id.
    pub order_id: String,
    /// The customer who placed it.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: u64,
    /// `placed`, `paid` or `cancelled`.
    pub status: String,
}

/// An order with what this product adds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnrichedOrder {
    /// The order as received.
    #[serde(flatten)]
    pub order: Order,
    /// `small` (< 10.00), `medium` (< 100.00) or `large`.
    pub amount_band: String,
    /// Large paid orders are shipped first.
    pub priority: bool,
}

/// Enriches one order; `None` for orders this product drops.
pub fn enrich(order: Order) -> Option<EnrichedOrder> {
    if order.status == "cancelled" {
        return None;
    }
    let amount_band = match order.amount_cents {
        0..1_000 => "small",
        1_000..10_000 => "medium",
        _ => "large",
    };
    let priority = amount_band == "large" && order.status == "paid";
    Some(EnrichedOrder {
        order,
        amount_band: amount_band.to_string(),
        priority,
    })
}

/// The data product.
#[derive(Debug, Clone, Default)]
pub struct OrdersEnriched {
    /// Print each record consumed and produced (for the demo).
    pub verbose: bool,
}

impl DataProduct for OrdersEnriched {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("sales", "orders-enriched")
            .version("1.0.0")
            .owner("team-sales@example.com")
            .description("Open orders with their price band and shipping priority")
            .input("orders", "sales.orders")
            .output("enriched", "sales.orders.enriched")
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let value = record.value().unwrap_or_default();
        if self.verbose {
            println!(
                "consumed  {}[{}]@{}: {}",
                record.topic(),
                record.partition(),
                record.offset(),
                String::from_utf8_lossy(value)
            );
        }
        let order: Order = serde_json::from_slice(value)
            .map_err(|e| TransformError::new("not a valid order").with_source(e))?;
        if let Some(enriched) = enrich(order) {
            let json = serde_json::to_vec(&enriched)
                .map_err(|e| TransformError::new("cannot encode").with_source(e))?;
            if self.verbose {
                println!(
                    "produced  sales.orders.enriched: {}",
                    String::from_utf8_lossy(&json)
                );
            }
            ctx.emit("enriched", record.key().map(<[u8]>::to_vec), json)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, amount_cents: u64) -> Order {
        Order {
            order_id: "o-1".into(),
            customer: "c-1".into(),
            amount_cents,
            status: status.into(),
        }
    }

    #[test]
    fn cancelled_orders_are_dropped() {
        assert_eq!(enrich(order("cancelled", 5)), None);
    }

    #[test]
    fn bands_and_priority() {
        let e = enrich(order("paid", 999)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("small", false));
        let e = enrich(order("placed", 50_000)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("large", false));
        let e = enrich(order("paid", 50_000)).expect("kept");
        assert_eq!((e.amount_band.as_str(), e.priority), ("large", true));
    }

    #[tokio::test]
    async fn transform_emits_enriched_json_and_rejects_garbage() {
        let mut product = OrdersEnriched::default();
        let descriptor = product.descriptor().expect("valid");
        let mut ctx = Context::new(&descriptor);
        let input = serde_json::to_vec(&order("paid", 2_000)).expect("json");
        let record = Record::new("orders", "sales.orders", 0, 0)
            .with_key(b"o-1")
            .with_value(&input);
        product.process(&record, &mut ctx).await.expect("valid order");
        let out = ctx.take_emitted();
        assert_eq!(out.len(), 1);
        let enriched: EnrichedOrder =
            serde_json::from_slice(out[0].1.value.as_deref().expect("value")).expect("json");
        assert_eq!(enriched.amount_band, "medium");

        let garbage = Record::new("orders", "sales.orders", 0, 1).with_value(b"{not json");
        let err = product
            .process(&garbage, &mut ctx)
            .await
            .expect_err("garbage is rejected");
        assert!(err.to_string().contains("not a valid order"));
        assert!(ctx.take_emitted().is_empty());
    }
}
