//! `sales/customer-spend`: a stateful data product that keeps each customer's
//! running spend and order count in a store, and publishes the new totals on
//! every paid order; and counts each customer's orders per one-minute
//! tumbling window of event time, publishing each window's final count when
//! it closes (late orders go to the dead-letter topic).
//!
//! Input `orders` (topic `sales.orders`): JSON orders (see [`crate::orders::Order`]),
//! keyed by customer: state is kept per input partition, so a customer's
//! orders must all arrive on one partition (as in Kafka Streams, re-key
//! upstream otherwise).
//! Output `spend` (topic `sales.customer-spend`): JSON [`CustomerSpend`] keyed
//! by customer. Output `per_minute` (topic `sales.customer-orders-per-minute`):
//! JSON [`OrdersPerMinute`]. Store `spend`: customer → [`CustomerSpend`], and
//! windowed store `per_minute`, kept in RocksDB and their changelogs, exactly
//! as consistent as the outputs.

use std::time::Duration;

use meshkit::state::{Emit, StoreRef, WindowStoreRef, Windows};
use meshkit::{Context, Record, TransformError};
use serde::{Deserialize, Serialize};

use crate::orders::Order;

/// A customer's totals so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CustomerSpend {
    /// The customer.
    pub customer: String,
    /// Paid orders so far.
    pub orders: u64,
    /// Their total, in cents.
    pub total_cents: i64,
}

/// A customer's orders in one minute of event time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrdersPerMinute {
    /// The customer.
    pub customer: String,
    /// Start of the minute, ms since the Unix epoch.
    pub minute_start: i64,
    /// Orders placed in it (any status).
    pub orders: u64,
}

/// One-minute tumbling windows, accepting orders up to 10 s late, published
/// once when they close.
pub fn per_minute() -> Windows {
    Windows::tumbling(Duration::from_secs(60))
        .grace(Duration::from_secs(10))
        .emit(Emit::OnClose)
}

/// The data product, declared with the DSL: the attribute generates its
/// `DataProduct` impl (descriptor and dispatch); the transform below is
/// called unchanged. Its hand-written twin is in `examples/tests/dsl_twin.rs`.
#[derive(Debug, Clone, Default)]
pub struct CustomerSpendProduct;

#[meshkit::product(
    domain = "sales",
    name = "customer-spend",
    version = "1.0.0",
    owner = "team-sales@example.com",
    description = "Each customer's paid orders and total spend, updated on every paid order",
    tags = ["sales"],
    input(orders, topic = "sales.orders"),
    output(spend, topic = "sales.customer-spend"),
    output(per_minute, topic = "sales.customer-orders-per-minute"),
    store(spend, key = String, value = CustomerSpend),
    store(per_minute, key = String, value = u64, window(size = "1m", grace = "10s", emit = on_close)),
)]
impl CustomerSpendProduct {
    #[transform(orders, stores = [spend, per_minute], record)]
    fn on_order(
        &mut self,
        record: &Record<'_>,
        value: Option<&[u8]>,
        spend: StoreRef<String, CustomerSpend>,
        per_minute: WindowStoreRef<String, u64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let order: Order = serde_json::from_slice(value.unwrap_or_default())
            .map_err(|e| TransformError::new("not a valid order").with_source(e))?;
        if let Some(ts) = record.timestamp() {
            let update = per_minute
                .open(ctx)?
                .update(&order.customer, ts, |n| n.unwrap_or(0) + 1)?;
            let late = update.late;
            for (window, customer, orders) in update.results(Emit::OnClose, &order.customer) {
                let out = OrdersPerMinute {
                    customer: customer.clone(),
                    minute_start: window.start,
                    orders,
                };
                ctx.emit("per_minute", Some(customer.into_bytes()), json(&out)?)?;
            }
            if late {
                ctx.dead_letter(
                    "late-record",
                    format!("order at {ts} arrived after its minute closed"),
                );
            }
        }
        if order.status != "paid" {
            return Ok(());
        }
        let mut spend = spend.open(ctx)?;
        let mut totals = spend.get(&order.customer)?.unwrap_or_else(|| CustomerSpend {
            customer: order.customer.clone(),
            ..CustomerSpend::default()
        });
        totals.orders += 1;
        totals.total_cents += order.amount_cents;
        spend.put(&order.customer, &totals)?;
        ctx.emit("spend", Some(order.customer.into_bytes()), json(&totals)?)?;
        Ok(())
    }
}

fn json<T: Serialize>(value: &T) -> Result<Vec<u8>, TransformError> {
    serde_json::to_vec(value).map_err(|e| TransformError::new("cannot encode").with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshkit::DataProduct;

    fn order(customer: &str, amount_cents: i64, status: &str) -> Vec<u8> {
        serde_json::to_vec(&Order {
            order_id: "o".into(),
            customer: customer.into(),
            amount_cents,
            status: status.into(),
        })
        .expect("json")
    }

    #[tokio::test]
    async fn totals_accumulate_per_customer_and_skip_unpaid_orders() {
        let mut product = CustomerSpendProduct;
        let descriptor = product.descriptor().expect("valid");
        let mut ctx = Context::with_memory_state(&descriptor);
        for (i, (customer, amount, status)) in [
            ("c-1", 100, "paid"),
            ("c-2", 50, "paid"),
            ("c-1", 900, "placed"),
            ("c-1", 25, "paid"),
        ]
        .into_iter()
        .enumerate()
        {
            let value = order(customer, amount, status);
            let record = Record::new("orders", "sales.orders", 0, i as i64).with_value(&value);
            product.process(&record, &mut ctx).await.expect("processed");
        }
        let emitted = ctx.take_emitted();
        assert_eq!(emitted.len(), 3, "unpaid orders emit nothing");
        let last: CustomerSpend =
            serde_json::from_slice(emitted[2].1.value.as_deref().expect("value")).expect("json");
        assert_eq!(
            last,
            CustomerSpend {
                customer: "c-1".into(),
                orders: 2,
                total_cents: 125
            }
        );
        let stored = StoreRef::<String, CustomerSpend>::new("spend")
            .open(&mut ctx)
            .expect("store")
            .get(&"c-2".into())
            .expect("get");
        assert_eq!(stored.map(|s| s.total_cents), Some(50));
    }
}
