//! `lifecycle` declared, but the product does not implement `Lifecycle`.

use meshkit::{Context, TransformError};

pub struct Relay;

#[meshkit::product(
    domain = "sales",
    name = "relay",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders"),
    output(copies, topic = "sales.copies"),
    lifecycle,
)]
impl Relay {
    #[transform(orders)]
    fn on_order(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }
}

fn main() {}
