//! Sending to an output port the product does not declare.

use meshkit::{Context, TransformError};

#[derive(Debug, apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub customer: String,
    pub amount_cents: i64,
}

#[derive(Debug, apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Spend {
    pub total_cents: i64,
}

pub struct CustomerSpend;

#[meshkit::product(
    domain = "sales",
    name = "customer-spend",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order),
    output(spend, topic = "sales.customer-spend", key = String, value = Spend),
)]
impl CustomerSpend {
    #[transform(orders)]
    fn on_order(customer: &String, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        let spend = Spend { total_cents: order.amount_cents };
        Self::OUT.spnd.send(ctx, customer, &spend)?;
        Ok(())
    }
}

fn main() {}
