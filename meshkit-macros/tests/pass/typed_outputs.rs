//! Typed outputs in every format: Avro values with string keys, JSON values
//! with JSON keys, an unkeyed port and a raw one, sent through `Self::OUT`
//! and run in the test driver.

use meshkit::testing::TestDriver;
use meshkit::{Context, TransformError};

#[derive(Debug, Clone, PartialEq, apache_avro::AvroSchema, serde::Serialize, serde::Deserialize)]
pub struct Order {
    pub customer: String,
    pub amount_cents: i64,
}

#[derive(
    Debug, Clone, PartialEq, apache_avro::AvroSchema, schemars::JsonSchema, serde::Serialize, serde::Deserialize,
)]
pub struct Spend {
    pub total_cents: i64,
}

pub struct Fanout;

#[meshkit::product(
    domain = "sales",
    name = "fanout",
    version = "1.0.0",
    owner = "team-sales@example.com",
    input(orders, topic = "sales.orders", key = String, value = Order, format = json),
    output(avro, topic = "sales.spend-avro", key = String, value = Spend),
    output(json, topic = "sales.spend-json", key = (String, i64), value = Spend, format = json),
    output(unkeyed, topic = "sales.spend-unkeyed", value = Spend),
    output(registered, topic = "sales.spend-registered", key = String, value = Spend, format = json_schema),
    output(raw, topic = "sales.spend-raw"),
)]
impl Fanout {
    #[transform(orders)]
    fn on_order(customer: &str, order: &Order, ctx: &mut Context) -> Result<(), TransformError> {
        let spend = Spend { total_cents: order.amount_cents };
        Self::OUT.avro.send(ctx, &customer.to_string(), &spend)?;
        Self::OUT.json.send(ctx, &(customer.to_string(), order.amount_cents), &spend)?;
        Self::OUT.unkeyed.send_value(ctx, &spend)?;
        Self::OUT.registered.send(ctx, &customer.to_string(), &spend)?;
        Self::OUT.raw.send(ctx, Some(customer.as_bytes()), b"seen")?;
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut driver = TestDriver::start(Fanout).await?;
    let order = Order { customer: "c-1".into(), amount_cents: 5 };
    driver.pipe("orders", &"c-1".to_string(), &order).await?;
    let avro = driver.read(Fanout::OUT.avro)?;
    assert_eq!((avro[0].key.as_str(), avro[0].value.total_cents), ("c-1", 5));
    let json = driver.read(Fanout::OUT.json)?;
    assert_eq!(json[0].key, ("c-1".to_string(), 5));
    assert_eq!(driver.read(Fanout::OUT.unkeyed)?[0].value.total_cents, 5);
    assert_eq!(driver.read(Fanout::OUT.registered)?[0].value.total_cents, 5);
    let raw = driver.read_raw("raw")?;
    assert_eq!(raw[0].value.as_deref(), Some(&b"seen"[..]));
    // The JSON Schema output's schema is in the registry, as JSON.
    let latest = driver
        .registry()
        .schema_version("sales.spend-registered-value", meshkit::schema::registry::VersionRef::Latest, false)
        .await?;
    assert_eq!(latest.definition.schema_type, meshkit::schema::registry::SchemaType::Json);
    Ok(())
}
