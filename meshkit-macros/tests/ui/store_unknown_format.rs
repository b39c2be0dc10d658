//! A store whose values are kept in a format that does not exist.

use meshkit::{Context, TransformError};

pub struct Relay;

#[meshkit::product(
    domain = "sales",
    name = "relay",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders"),
    output(copies, topic = "sales.copies"),
    store(seen, key = String, value = u64, format = json),
)]
impl Relay {
    #[transform(orders)]
    fn on_order(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }
}

fn main() {}
