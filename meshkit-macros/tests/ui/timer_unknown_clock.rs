//! A timer on a clock that does not exist.

use meshkit::{Context, TransformError};

pub struct Relay;

#[meshkit::product(
    domain = "sales",
    name = "relay",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders"),
    output(copies, topic = "sales.copies"),
)]
impl Relay {
    #[transform(orders)]
    fn on_order(value: Option<&[u8]>, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (value, ctx);
        Ok(())
    }

    #[timer(every = "10s", clock = system)]
    fn beat(ctx: &mut Context) -> Result<(), TransformError> {
        let _ = ctx;
        Ok(())
    }
}

fn main() {}
