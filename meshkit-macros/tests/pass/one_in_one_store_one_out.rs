//! One input, one store, one output: the product of the crate docs, run on
//! two records.

use meshkit::state::StoreRef;
use meshkit::{Context, DataProduct, Record, TransformError};
use serde::{Deserialize, Serialize};

#[derive(apache_avro::AvroSchema, Serialize, Deserialize, Debug, Clone)]
pub struct Order {
    pub customer: String,
    pub amount_cents: i64,
}

#[derive(apache_avro::AvroSchema, Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct Spend {
    pub orders: i64,
    pub total_cents: i64,
}

#[derive(Default)]
pub struct CustomerSpend;

#[meshkit::product(
    domain = "sales",
    name = "customer-spend",
    version = "1.0.0",
    owner = "team-sales@example.com",
    description = "Each customer's paid orders and total spend",
    tags = ["sales", "tier-1"],
    slo(freshness = "5m", latency = "250ms"),
    input(orders, topic = "sales.orders", value = Order),
    store(totals, key = String, value = Spend),
    output(spend, topic = "sales.customer-spend", value = Spend),
)]
impl CustomerSpend {
    #[transform(orders, stores = [totals])]
    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context) -> Result<(), TransformError> {
        let mut totals = totals.open(ctx)?;
        let mut spend = totals.get(&order.customer)?.unwrap_or_default();
        spend.orders += 1;
        spend.total_cents += order.amount_cents;
        totals.put(&order.customer, &spend)?;
        ctx.emit_value("spend", Some(order.customer.clone().into_bytes()), &spend)?;
        Ok(())
    }
}

/// Polls a future that never waits (the transforms here do not).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn main() {
    let mut product = CustomerSpend;
    let descriptor = product.descriptor().expect("a valid descriptor");
    assert_eq!(descriptor.identity.domain, "sales");
    assert_eq!(descriptor.identity.name, "customer-spend");
    assert_eq!(descriptor.identity.version.to_string(), "1.0.0");
    assert_eq!(descriptor.identity.tags, ["sales", "tier-1"]);
    assert_eq!(descriptor.identity.slo.freshness, Some(std::time::Duration::from_secs(300)));
    assert_eq!(descriptor.inputs[0].topic, "sales.orders");
    assert_eq!(descriptor.outputs[0].name, "spend");
    assert_eq!(descriptor.stores[0].name, "totals");

    let mut ctx = Context::with_memory_state(&descriptor);
    for amount_cents in [100, 25] {
        let order = Order { customer: "c-1".into(), amount_cents };
        let record = Record::new("orders", "sales.orders", 0, 0).with_decoded_value(&order);
        block_on(product.process(&record, &mut ctx)).expect("processed");
    }
    assert_eq!(ctx.take_emitted().len(), 2);
    let stored = StoreRef::<String, Spend>::new("totals").open(&mut ctx).unwrap().get(&"c-1".into()).unwrap();
    assert_eq!(stored, Some(Spend { orders: 2, total_cents: 125 }));

    // The transform is an ordinary method: callable by hand.
    let order = Order { customer: "c-2".into(), amount_cents: 7 };
    product.on_order(&order, StoreRef::new("totals"), &mut ctx).unwrap();
}
