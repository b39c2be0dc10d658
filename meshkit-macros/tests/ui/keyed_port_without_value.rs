//! A `key` type without a `value` type.

use meshkit::state::StoreRef;
use meshkit::{Context, TransformError};

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub customer: String,
}

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize, Default)]
pub struct Spend {
    pub total: i64,
}

pub struct CustomerSpend;

#[meshkit::product(
    domain = "sales",
    name = "customer-spend",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", value = Order),
    store(totals, key = String, value = Spend),
    output(spend, topic = "sales.customer-spend", value = Spend),
    output(audit, topic = "sales.audit", key = String),
)]
impl CustomerSpend {
    #[transform(orders, stores = [totals])]
    fn on_order(&mut self, order: &Order, totals: StoreRef<String, Spend>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (order, totals.open(ctx)?);
        Ok(())
    }
}

fn main() {}
