//! Protobuf ports in the DSL: `format = protobuf` for values, messages
//! written by hand over a pool read from `.proto` text, sent through
//! `Self::OUT` and run in the test driver.

use std::sync::LazyLock;

use meshkit::schema::descriptor_pool;
use meshkit::testing::TestDriver;
use meshkit::{Context, TransformError};
use prost_reflect::DescriptorPool;

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    descriptor_pool(
        "sales/orders.proto",
        r#"syntax = "proto3";
           package sales;
           message Order { string customer = 1; int64 amount_cents = 2; }
           message Spend { int64 total_cents = 1; }"#,
    )
    .expect("a valid file")
});

#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "sales.Order")]
pub struct Order {
    #[prost(string, tag = "1")]
    pub customer: String,
    #[prost(int64, tag = "2")]
    pub amount_cents: i64,
}

#[derive(Clone, PartialEq, prost::Message, prost_reflect::ReflectMessage)]
#[prost_reflect(descriptor_pool = "POOL", message_name = "sales.Spend")]
pub struct Spend {
    #[prost(int64, tag = "1")]
    pub total_cents: i64,
}

pub struct Spends;

#[meshkit::product(
    domain = "sales",
    name = "spends",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order, format = protobuf),
    output(spend, topic = "sales.spend", key = String, value = Spend, format = protobuf),
)]
impl Spends {
    #[transform(orders)]
    fn on_order(customer: &str, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        let spend = Spend { total_cents: order.amount_cents * 2 };
        Self::OUT.spend.send(ctx, &customer.to_string(), &spend)?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Spends).await?;
    let order = Order { customer: "c-1".into(), amount_cents: 5 };
    driver.pipe("orders", &"c-1".to_string(), &order).await?;
    let spend = driver.read(Spends::OUT.spend)?;
    assert_eq!((spend[0].key.as_str(), spend[0].value.total_cents), ("c-1", 10));
    // Bytes that are not a message: a dead letter, with its reason.
    driver.pipe_raw("orders", Some(b"c-1"), Some(&[0, 0, 0, 0, 1, 0, 0x0a, 0x09])).await?;
    let reasons: Vec<String> = driver.dead_letters().into_iter().map(|d| d.reason).collect();
    assert_eq!(reasons, ["malformed-protobuf"]);
    Ok(())
}
