//! Keyed input and output ports: the transform receives the decoded key first.

use meshkit::{Context, DataProduct, Record, TransformError};
use serde::{Deserialize, Serialize};

#[derive(apache_avro::AvroSchema, Serialize, Deserialize, Debug, Clone)]
pub struct Order {
    pub amount_cents: i64,
    pub status: String,
}

#[derive(apache_avro::AvroSchema, Serialize, Deserialize, Debug, Clone)]
pub struct Paid {
    pub customer: String,
    pub amount_cents: i64,
}

pub struct PaidOrders {
    pub min_cents: i64,
}

#[meshkit::product(
    domain = "sales",
    name = "paid-orders",
    version = "2.1.0-rc.1+build.7",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", value = Order, key = String),
    output(paid, topic = "sales.orders.paid", value = Paid, key = String),
)]
impl PaidOrders {
    #[transform(orders)]
    fn on_order(&self, customer: &String, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        if order.status == "paid" && order.amount_cents >= self.min_cents {
            let paid = Paid { customer: customer.clone(), amount_cents: order.amount_cents };
            ctx.emit_keyed("paid", customer, &paid)?;
        }
        Ok(())
    }
}

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
    let mut product = PaidOrders { min_cents: 10 };
    let descriptor = product.descriptor().expect("a valid descriptor");
    assert_eq!(descriptor.identity.version.to_string(), "2.1.0-rc.1+build.7");
    let schema = descriptor.inputs[0].schema.as_ref().expect("an Avro port");
    assert!(schema.key_codec().is_some(), "the input is keyed");
    assert!(descriptor.outputs[0].schema.as_ref().expect("Avro").key_codec().is_some());

    let mut ctx = Context::new(&descriptor);
    let key = "c-1".to_string();
    let order = Order { amount_cents: 50, status: "paid".into() };
    let record = Record::new("orders", "sales.orders", 0, 0).with_decoded_key(&key).with_decoded_value(&order);
    block_on(product.process(&record, &mut ctx)).expect("processed");
    assert_eq!(ctx.take_emitted().len(), 1);

    // A record without its decoded key is an error, not a panic.
    let record = Record::new("orders", "sales.orders", 0, 1).with_decoded_value(&order);
    assert!(block_on(product.process(&record, &mut ctx)).is_err());
}
