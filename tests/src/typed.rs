//! `tests/orders-enricher`: a product with Avro ports, for the schema tests.
//! It reads orders (and keyed payments), enriches each order with a price
//! band, and rejects orders with a negative amount.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use apache_avro::AvroSchema;
use meshkit::schema::{codec_for, wire, AvroType, PortSchema, SchemaRegistry};
use meshkit::{Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::broker::send_with_backpressure;

/// An order as the product reads it (v2: `channel` was added with a default).
#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[serde(rename = "Order")]
#[avro(namespace = "com.example.sales")]
pub struct Order {
    /// Order id.
    pub id: i64,
    /// Customer.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// Where it was placed; absent from v1 writers.
    #[avro(default = "\"unknown\"")]
    #[serde(default = "unknown")]
    pub channel: String,
}

fn unknown() -> String {
    "unknown".to_string()
}

/// An order as old (v1) writers write it.
#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[serde(rename = "Order")]
#[avro(namespace = "com.example.sales")]
pub struct OrderV1 {
    /// Order id.
    pub id: i64,
    /// Customer.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
}

/// A writer schema no `Order` reader can read: `id` is a string.
#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[serde(rename = "Order")]
#[avro(namespace = "com.example.sales")]
pub struct OrderWithStringId {
    /// Order id, as text.
    pub id: String,
    /// Customer.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
}

/// The product's output.
#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[avro(namespace = "com.example.sales")]
pub struct EnrichedOrder {
    /// Order id.
    pub id: i64,
    /// Customer.
    pub customer: String,
    /// Amount in cents.
    pub amount_cents: i64,
    /// `small`, `medium` or `large`.
    pub band: String,
    /// Channel, `unknown` for v1 orders (added in v2 of this output, with a default).
    #[avro(default = "\"unknown\"")]
    #[serde(default = "unknown")]
    pub channel: String,
}

/// A payment, on the keyed port (key: the customer, as an Avro string).
#[derive(Debug, Clone, PartialEq, AvroSchema, Serialize, Deserialize)]
#[avro(namespace = "com.example.sales")]
pub struct Payment {
    /// Order paid.
    pub order_id: i64,
    /// Amount in cents.
    pub cents: i64,
}

/// The price band of an amount.
pub fn band(amount_cents: i64) -> &'static str {
    match amount_cents {
        ..=999 => "small",
        1000..=9999 => "medium",
        _ => "large",
    }
}

/// Reads `orders` (Avro [`Order`]) and keyed `payments` (Avro [`Payment`]
/// keyed by customer), writes `enriched` (Avro [`EnrichedOrder`]) and
/// `paid` (raw `customer:order:cents`).
#[derive(Debug, Clone)]
pub struct OrdersEnricher {
    /// Orders topic.
    pub orders: String,
    /// Payments topic.
    pub payments: String,
    /// Enriched topic.
    pub enriched: String,
    /// Paid topic.
    pub paid: String,
}

impl OrdersEnricher {
    /// Topics named `<prefix>.orders`, `.payments`, `.enriched`, `.paid`.
    pub fn new(prefix: &str) -> Self {
        Self {
            orders: format!("{prefix}.orders"),
            payments: format!("{prefix}.payments"),
            enriched: format!("{prefix}.enriched"),
            paid: format!("{prefix}.paid"),
        }
    }
}

impl DataProduct for OrdersEnricher {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "orders-enricher")
            .version("0.1.0")
            .owner("meshkit-tests")
            .description("Orders with their price band")
            .input_avro::<Order>("orders", &self.orders)
            .input_with(
                "payments",
                &self.payments,
                PortSchema::value::<Payment>().with_key::<String>(),
            )
            .output_avro::<EnrichedOrder>("enriched", &self.enriched)
            .output("paid", &self.paid)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        match record.port() {
            "orders" => {
                let order: &Order = record.value_as()?;
                if order.amount_cents < 0 {
                    return Err(TransformError::new(format!(
                        "order {} has a negative amount",
                        order.id
                    )));
                }
                let enriched = EnrichedOrder {
                    id: order.id,
                    customer: order.customer.clone(),
                    amount_cents: order.amount_cents,
                    band: band(order.amount_cents).to_string(),
                    channel: order.channel.clone(),
                };
                ctx.emit_value("enriched", Some(order.customer.clone().into_bytes()), &enriched)?;
            }
            _ => {
                let customer: &String = record.key_as()?;
                let payment: &Payment = record.value_as()?;
                ctx.emit(
                    "paid",
                    None,
                    format!("{customer}:{}:{}", payment.order_id, payment.cents),
                )?;
            }
        }
        Ok(())
    }
}

/// Registers `T` under `subject` and returns its framed encoding function.
pub async fn register<T: AvroType>(registry: &dyn SchemaRegistry, subject: &str) -> anyhow::Result<u32> {
    let codec = codec_for::<T>();
    let registered = registry
        .register(subject, codec.schema_json())
        .await
        .with_context(|| format!("registering under {subject}"))?;
    Ok(registered.id)
}

/// `value` in the Confluent wire format with schema `id`.
pub fn framed<T: AvroType>(id: u32, value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    wire::write_header(&mut out, id);
    codec_for::<T>()
        .encode(value, &mut out)
        .unwrap_or_else(|e| panic!("test value does not encode: {e}"));
    out
}

/// Decodes a framed `T` written with `T`'s own schema.
pub fn unframe<T: AvroType + Clone>(payload: &[u8]) -> anyhow::Result<(u32, T)> {
    let (id, body) = wire::split(payload)?;
    let (value, rest) = codec_for::<T>().decode_direct(body)?;
    anyhow::ensure!(rest == 0, "{rest} trailing bytes");
    let value = value
        .downcast_ref::<T>()
        .cloned()
        .context("decoded to another type")?;
    Ok((id, value))
}

/// One raw record to produce.
pub struct Raw {
    /// Target topic.
    pub topic: String,
    /// Key bytes.
    pub key: Option<Vec<u8>>,
    /// Value bytes.
    pub value: Option<Vec<u8>>,
}

/// Produces `records` in order (to partition 0 when `partition0`), and waits for all acks.
pub fn produce_raw(brokers: &str, records: &[Raw]) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .set("message.max.bytes", "4000000")
        .create()?;
    for r in records {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(&r.topic);
        if let Some(key) = &r.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &r.value {
            record = record.payload(value.as_slice());
        }
        send_with_backpressure(&producer, record).context("producing")?;
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).context("flushing")?;
    Ok(())
}

/// Schema ids the poison records refer to.
#[derive(Debug, Clone, Copy)]
pub struct PoisonIds {
    /// The orders subject's `Order` (v2) id.
    pub order: u32,
    /// An id whose schema (`OrderWithStringId`) no `Order` reader can read.
    pub incompatible: u32,
    /// The payments subject's `Payment` id.
    pub payment: u32,
}

/// The schema id the `unknown-schema-id` poison record carries.
pub const UNKNOWN_SCHEMA_ID: u32 = 99_999;

/// One record of each kind of poison the orders enricher must dead-letter,
/// with the reason it must give, for a product with `max_record_bytes(4096)`.
pub fn poison_records(product: &OrdersEnricher, ids: PoisonIds) -> Vec<(&'static str, Raw)> {
    let raw = |topic: &str, key: Option<Vec<u8>>, value: Option<Vec<u8>>| Raw {
        topic: topic.to_string(),
        key,
        value,
    };
    let order = |id: i64| Order {
        id,
        customer: format!("c{}", id % 7),
        amount_cents: id * 97,
        channel: "web".into(),
    };
    let mut trailing = framed(ids.order, &order(9_002));
    trailing.extend_from_slice(&[0, 1]);
    let mut garbage = Vec::new();
    wire::write_header(&mut garbage, ids.order);
    garbage.extend_from_slice(&[0xff; 12]);
    let huge = Order {
        customer: "x".repeat(5_000),
        ..order(9_003)
    };
    let string_id = OrderWithStringId {
        id: "o-1".into(),
        customer: "c1".into(),
        amount_cents: 1,
    };
    let payment = framed(
        ids.payment,
        &Payment {
            order_id: 1,
            cents: 1,
        },
    );
    let orders = product.orders.as_str();
    vec![
        ("truncated-header", raw(orders, None, Some(vec![0, 0, 1]))),
        ("bad-magic", raw(orders, None, Some(b"{\"id\": 1}".to_vec()))),
        (
            "unknown-schema-id",
            raw(orders, None, Some(framed(UNKNOWN_SCHEMA_ID, &order(9_001)))),
        ),
        ("malformed-avro", raw(orders, None, Some(garbage))),
        ("trailing-bytes", raw(orders, None, Some(trailing))),
        (
            "incompatible-writer-schema",
            raw(orders, None, Some(framed(ids.incompatible, &string_id))),
        ),
        ("missing-value", raw(orders, None, None)),
        ("oversized", raw(orders, None, Some(framed(ids.order, &huge)))),
        (
            "transform-error",
            raw(
                orders,
                None,
                Some(framed(
                    ids.order,
                    &Order {
                        amount_cents: -5,
                        ..order(9_004)
                    },
                )),
            ),
        ),
        ("missing-key", raw(&product.payments, None, Some(payment.clone()))),
        (
            "key-bad-magic",
            raw(&product.payments, Some(b"customer-1".to_vec()), Some(payment)),
        ),
    ]
}

/// A registry that can be switched off, to test a registry going away.
pub struct Switchable {
    /// The registry behind it.
    pub inner: Arc<dyn SchemaRegistry>,
    /// While true, every call fails as unavailable.
    pub down: std::sync::atomic::AtomicBool,
    /// How many calls reached it (answered or not).
    pub calls: std::sync::atomic::AtomicUsize,
}

impl Switchable {
    /// Wraps `inner`, up.
    pub fn new(inner: Arc<dyn SchemaRegistry>) -> Self {
        Self {
            inner,
            down: false.into(),
            calls: 0.into(),
        }
    }

    fn gate(&self) -> Result<(), meshkit::schema::RegistryError> {
        use std::sync::atomic::Ordering;
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(meshkit::schema::RegistryError::Unavailable {
                reason: "switched off by the test".into(),
                source: None,
            });
        }
        Ok(())
    }
}

macro_rules! forward {
    ($self:ident, $call:expr) => {
        Box::pin(async move {
            $self.gate()?;
            $call.await
        })
    };
}

impl SchemaRegistry for Switchable {
    fn register<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::RegisteredSchema> {
        forward!(self, self.inner.register(subject, schema))
    }

    fn lookup<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::RegisteredSchema> {
        forward!(self, self.inner.lookup(subject, schema))
    }

    fn schema_by_id(&self, id: u32) -> meshkit::schema::registry::RegistryFuture<'_, String> {
        forward!(self, self.inner.schema_by_id(id))
    }

    fn subjects(&self) -> meshkit::schema::registry::RegistryFuture<'_, Vec<String>> {
        forward!(self, self.inner.subjects())
    }

    fn versions<'a>(&'a self, subject: &'a str) -> meshkit::schema::registry::RegistryFuture<'a, Vec<u32>> {
        forward!(self, self.inner.versions(subject))
    }

    fn version<'a>(
        &'a self,
        subject: &'a str,
        version: meshkit::schema::registry::VersionRef,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::RegisteredSchema> {
        forward!(self, self.inner.version(subject, version))
    }

    fn check_compatibility<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
        version: meshkit::schema::registry::VersionRef,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::CompatibilityReport> {
        forward!(self, self.inner.check_compatibility(subject, schema, version))
    }

    fn compatibility_level<'a>(
        &'a self,
        subject: Option<&'a str>,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::CompatibilityLevel> {
        forward!(self, self.inner.compatibility_level(subject))
    }

    fn set_compatibility_level<'a>(
        &'a self,
        subject: Option<&'a str>,
        level: meshkit::schema::registry::CompatibilityLevel,
    ) -> meshkit::schema::registry::RegistryFuture<'a, meshkit::schema::registry::CompatibilityLevel> {
        forward!(self, self.inner.set_compatibility_level(subject, level))
    }

    fn delete_subject<'a>(
        &'a self,
        subject: &'a str,
        permanent: bool,
    ) -> meshkit::schema::registry::RegistryFuture<'a, Vec<u32>> {
        forward!(self, self.inner.delete_subject(subject, permanent))
    }

    fn delete_version<'a>(
        &'a self,
        subject: &'a str,
        version: meshkit::schema::registry::VersionRef,
        permanent: bool,
    ) -> meshkit::schema::registry::RegistryFuture<'a, u32> {
        forward!(self, self.inner.delete_version(subject, version, permanent))
    }
}

/// meshkit's embedded registry on the test broker, served over HTTP on
/// loopback, as Python's clients and the products under test reach it.
pub struct ServedRegistry {
    /// The registry.
    pub registry: std::sync::Arc<meshkit::schema::registry::EmbeddedRegistry>,
    /// Its REST server.
    pub server: meshkit::schema::registry::RegistryServer,
    /// The server's URL.
    pub url: String,
}

impl ServedRegistry {
    /// A registry in a new topic of `brokers`, served on a free port.
    ///
    /// # Panics
    /// When it cannot be opened or served.
    pub async fn start(brokers: &str) -> Self {
        let registry = std::sync::Arc::new(
            meshkit::schema::registry::EmbeddedRegistry::connect(
                brokers,
                &crate::broker::unique_name("_schemas"),
                [("", ""); 0],
            )
            .await
            .expect("registry"),
        );
        let server = meshkit::schema::registry::RegistryServer::bind(
            "127.0.0.1:0".parse().expect("addr"),
            registry.clone(),
        )
        .expect("serve");
        let url = format!("http://{}", server.local_addr());
        Self {
            registry,
            server,
            url,
        }
    }

    /// A product's settings on `brokers` with this registry.
    ///
    /// # Panics
    /// When they are invalid.
    pub fn config(&self, brokers: &str, state: &std::path::Path, app: &str) -> meshkit::Config {
        meshkit::Config::builder()
            .brokers(brokers)
            .application_id(app)
            .state_dir(state)
            .topic_partitions(2)
            .schema_registry_url(&self.url)
            .kafka_property("session.timeout.ms", "6000")
            .build()
            .expect("config")
    }
}
