//! A windowed store, an async transform that takes the record (for its
//! timestamp), and a raw-bytes output.

use meshkit::state::WindowStoreRef;
use meshkit::{Context, DataProduct, Record, TransformError};
use serde::{Deserialize, Serialize};

#[derive(apache_avro::AvroSchema, Serialize, Deserialize, Debug, Clone)]
pub struct Order {
    pub customer: String,
}

#[derive(Default)]
pub struct OrdersPerMinute;

#[meshkit::product(
    domain = "sales",
    name = "orders-per-minute",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", value = Order),
    store(per_minute, key = String, value = u64, window(size = "1m", advance = "20s", grace = "10s", emit = on_close)),
    store(per_hour, key = String, value = u64, window(size = "1h")),
    output(counts, topic = "sales.orders-per-minute"),
)]
impl OrdersPerMinute {
    #[transform(orders, stores = [per_minute, per_hour], record)]
    async fn on_order(
        &mut self,
        record: &Record<'_>,
        order: &Order,
        per_minute: WindowStoreRef<String, u64>,
        per_hour: WindowStoreRef<String, u64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let Some(ts) = record.timestamp() else { return Ok(()) };
        let update = per_minute.open(ctx)?.update(&order.customer, ts, |n| n.unwrap_or(0) + 1)?;
        per_hour.open(ctx)?.update(&order.customer, ts, |n| n.unwrap_or(0) + 1)?;
        for (window, customer, count) in update.closed {
            ctx.emit("counts", Some(customer.into_bytes()), format!("{}:{count}", window.start))?;
        }
        Ok(())
    }
}

fn main() {
    let product = OrdersPerMinute;
    let descriptor = product.descriptor().expect("a valid descriptor");
    let window = descriptor.stores[0].window.expect("windowed");
    assert_eq!(window.size, std::time::Duration::from_secs(60));
    assert_eq!(window.advance, std::time::Duration::from_secs(20));
    assert_eq!(window.grace, std::time::Duration::from_secs(10));
    assert_eq!(window.emit, meshkit::state::Emit::OnClose);
    let hourly = descriptor.stores[1].window.expect("windowed");
    assert_eq!(hourly.advance, hourly.size, "tumbling");
    assert!(descriptor.outputs[0].schema.is_none(), "raw bytes");
}
