//! A windowed store whose value type is not `Clone`.

use meshkit::state::WindowStoreRef;
use meshkit::{Context, TransformError};

#[derive(apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub customer: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub count: u64,
}

pub struct Counts;

#[meshkit::product(
    domain = "sales",
    name = "counts",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", value = Order),
    store(per_minute, key = String, value = Tally, window(size = "1m")),
    output(counts, topic = "sales.counts"),
)]
impl Counts {
    #[transform(orders, stores = [per_minute])]
    fn on_order(&mut self, order: &Order, per_minute: WindowStoreRef<String, Tally>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (order, per_minute, ctx);
        Ok(())
    }
}

fn main() {}
