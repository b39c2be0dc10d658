//! A Protobuf port whose type is not a Protobuf message.

use meshkit::{Context, TransformError};

#[derive(serde::Serialize, serde::Deserialize)]
pub struct NotAMessage {
    pub customer: String,
}

pub struct Relay;

#[meshkit::product(
    domain = "sales",
    name = "relay",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", value = NotAMessage, format = protobuf),
    output(copies, topic = "sales.copies"),
)]
impl Relay {
    #[transform(orders)]
    fn on_order(order: &NotAMessage, ctx: &mut Context) -> Result<(), TransformError> {
        let _ = (order, ctx);
        Ok(())
    }
}

fn main() {}
