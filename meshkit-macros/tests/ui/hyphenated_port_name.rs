//! A port name written with a hyphen, as the topic would be.

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
    input(user-orders, topic = "sales.user-orders", key = String, value = Order),
    output(spend, topic = "sales.customer-spend", key = String, value = Spend),
)]
impl CustomerSpend {
    #[transform(user_orders)]
    fn on_order(customer: &String, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        let spend = Spend { total_cents: order.amount_cents };
        Self::OUT.spend.send(ctx, customer, &spend)?;
        Ok(())
    }
}

fn main() {}
