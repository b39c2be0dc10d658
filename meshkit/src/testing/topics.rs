//! Typed records to and from real topics, as an upstream producer and a
//! downstream reader would write and read them: for demos on the embedded
//! cluster and for tests against a broker.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{TestError, TestRecord};
use crate::schema::{wire, Codec, DecodeError, PortSchema, SchemaRegistry, SubjectNameStrategy};

/// Writes typed records to topics in their ports' formats, as an upstream
/// producer would: Avro registered under `<topic>-key` / `<topic>-value` and
/// framed with its id, JSON and strings as they are.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use meshkit::schema::registry::EmbeddedRegistry;
/// use meshkit::schema::PortSchema;
/// use meshkit::testing::{read_topic, TopicWriter};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = Arc::new(EmbeddedRegistry::in_memory());
/// let orders = PortSchema::json::<Vec<i64>>().with_string_key();
/// let writer = TopicWriter::new("127.0.0.1:9092", registry.clone())?;
/// writer.send("sales.orders", &orders, &"c-1".to_string(), &vec![5_i64], None).await?;
/// writer.flush()?;
/// let read = read_topic::<String, Vec<i64>>("127.0.0.1:9092", registry.as_ref(), "sales.orders", &orders).await?;
/// assert_eq!(read[0].value, vec![5]);
/// # Ok(())
/// # }
/// ```
pub struct TopicWriter {
    producer: BaseProducer,
    registry: Arc<dyn SchemaRegistry>,
}

impl std::fmt::Debug for TopicWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicWriter").finish_non_exhaustive()
    }
}

impl TopicWriter {
    /// A writer to `brokers`, registering Avro schemas in `registry`.
    ///
    /// # Errors
    ///
    /// [`TestError::Kafka`] if the client cannot be made.
    pub fn new(brokers: &str, registry: Arc<dyn SchemaRegistry>) -> Result<Self, TestError> {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("enable.idempotence", "true")
            .create()
            .map_err(TestError::Kafka)?;
        Ok(Self { producer, registry })
    }

    /// Writes `value` with `key` (`&()` for none) to `topic`, encoded as
    /// `schema` says, at `timestamp` (or now).
    ///
    /// # Errors
    ///
    /// [`TestError::WrongType`] if the key or value is not of `schema`'s
    /// types, [`TestError::Registry`], [`TestError::Encode`] or
    /// [`TestError::Kafka`].
    pub async fn send<K: Any, V: Any>(
        &self,
        topic: &str,
        schema: &PortSchema,
        key: &K,
        value: &V,
        timestamp: Option<i64>,
    ) -> Result<(), TestError> {
        self.send_with_headers(
            topic,
            schema,
            TestRecord {
                key,
                value,
                timestamp,
                headers: Vec::new(),
            },
        )
        .await
    }

    /// [`send`](Self::send) for a whole record, headers included.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_with_headers<K: Any, V: Any>(
        &self,
        topic: &str,
        schema: &PortSchema,
        record: TestRecord<&K, &V>,
    ) -> Result<(), TestError> {
        let key = match schema.key_codec() {
            Some(codec) => Some(encode(self.registry.as_ref(), topic, true, codec, record.key).await?),
            None if super::is_unit::<K>() => None,
            None => {
                return Err(super::wrong_type::<K>(
                    "input",
                    topic,
                    "key",
                    "no key (send `&()`)",
                ))
            }
        };
        let value = encode(
            self.registry.as_ref(),
            topic,
            false,
            schema.value_codec(),
            record.value,
        )
        .await?;
        let mut headers = OwnedHeaders::new();
        for (name, value) in &record.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value),
            });
        }
        let mut out = BaseRecord::<Vec<u8>, Vec<u8>>::to(topic)
            .payload(&value)
            .headers(headers);
        if let Some(key) = &key {
            out = out.key(key);
        }
        if let Some(at) = record.timestamp {
            out = out.timestamp(at);
        }
        self.producer.send(out).map_err(|(e, _)| TestError::Kafka(e))?;
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// Waits until every record sent is acknowledged (up to 30 s).
    ///
    /// # Errors
    ///
    /// [`TestError::Kafka`] if they are not.
    pub fn flush(&self) -> Result<(), TestError> {
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(TestError::Kafka)
    }
}

/// Encodes a key or value in `codec`'s format, as a writer of `topic` would:
/// a schema registered under `<topic>-key` / `<topic>-value`.
async fn encode<T: Any>(
    registry: &dyn SchemaRegistry,
    topic: &str,
    is_key: bool,
    codec: &Codec,
    value: &T,
) -> Result<Vec<u8>, TestError> {
    let part = if is_key { "key" } else { "value" };
    super::check_type::<T>("input", topic, part, codec)?;
    let id = match crate::schema::part_subject(SubjectNameStrategy::default(), topic, codec, is_key) {
        None => 0,
        Some(subject) => {
            (crate::schema::register_output(registry, &subject, codec, true).await)
                .map_err(TestError::Registry)?
                .0
        }
    };
    codec
        .encode_payload(id, value)
        .map_err(|source| TestError::Encode {
            port: topic.to_string(),
            part,
            source,
        })
}

/// Reads every committed record of `topic` (read_committed, from the start
/// of each partition, until nothing new comes for a second or 10 s pass),
/// decoded as `schema` says.
///
/// # Errors
///
/// [`TestError::Kafka`] if the topic cannot be read, [`TestError::Decode`]
/// if a record does not decode as `schema`'s types.
pub async fn read_topic<K: Any, V: Any>(
    brokers: &str,
    registry: &dyn SchemaRegistry,
    topic: &str,
    schema: &PortSchema,
) -> Result<Vec<TestRecord<K, V>>, TestError> {
    let raw = read_raw(brokers, topic)?;
    let mut out = Vec::with_capacity(raw.len());
    for (key, value, timestamp, headers) in raw {
        let decode_error = |source| TestError::Decode {
            port: topic.to_string(),
            source,
        };
        let key: K = match (schema.key_codec(), key) {
            (Some(codec), Some(bytes)) => decode(registry, codec, &bytes).await.map_err(decode_error)?,
            (Some(_), None) => return Err(decode_error(DecodeError::MissingKey)),
            (None, _) => super::unit::<K>()
                .ok_or_else(|| super::wrong_type::<K>("output", topic, "key", "no key (read with `()`)"))?,
        };
        let bytes = value.ok_or_else(|| decode_error(DecodeError::MissingValue))?;
        let value: V = decode(registry, schema.value_codec(), &bytes)
            .await
            .map_err(decode_error)?;
        out.push(TestRecord {
            key,
            value,
            timestamp,
            headers,
        });
    }
    Ok(out)
}

type RawMessage = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Vec<(String, Vec<u8>)>,
);

/// Every committed record of `topic`, as bytes.
fn read_raw(brokers: &str, topic: &str) -> Result<Vec<RawMessage>, TestError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "meshkit-topic-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(TestError::Kafka)?;
    let metadata =
        (consumer.fetch_metadata(Some(topic), Duration::from_secs(10))).map_err(TestError::Kafka)?;
    let mut partitions = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            partitions
                .add_partition_offset(topic, p.id(), Offset::Beginning)
                .map_err(TestError::Kafka)?;
        }
    }
    consumer.assign(&partitions).map_err(TestError::Kafka)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut quiet_since = Instant::now();
    let mut out = Vec::new();
    while Instant::now() < deadline && quiet_since.elapsed() < Duration::from_secs(1) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                quiet_since = Instant::now();
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().map(<[u8]>::to_vec),
                    m.timestamp().to_millis(),
                    headers,
                ));
            }
            Some(Err(e)) => return Err(TestError::Kafka(e)),
            None => {}
        }
    }
    Ok(out)
}

/// Decodes a payload in `codec`'s format, Avro with the writer schema its
/// id names in `registry`.
async fn decode<T: Any>(
    registry: &dyn SchemaRegistry,
    codec: &Codec,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    let decoded = match codec {
        Codec::Avro(avro) => {
            let (id, body) = wire::split(bytes)?;
            let text = registry
                .schema_by_id(id)
                .await
                .map_err(|_| DecodeError::UnknownSchemaId { id })?;
            let writer =
                apache_avro::Schema::parse_str(&text).map_err(|e| DecodeError::InvalidWriterSchema {
                    id,
                    reason: e.to_string(),
                })?;
            avro.decode_resolving(&writer, body)?.0
        }
        Codec::Plain(plain) => plain.decode(bytes)?,
        Codec::JsonSchema(json) => {
            let (id, body) = wire::split(bytes)?;
            registry
                .schema_by_id(id)
                .await
                .map_err(|_| DecodeError::UnknownSchemaId { id })?;
            json.decode_body(body)?
        }
        #[cfg(feature = "protobuf")]
        Codec::Protobuf(proto) => {
            let (id, body) = wire::split(bytes)?;
            registry
                .schema_definition_by_id(id)
                .await
                .map_err(|_| DecodeError::UnknownSchemaId { id })?;
            let (_, body) = crate::schema::read_message_indexes(body)?;
            proto.decode_body(body)?
        }
    };
    decoded
        .downcast::<T>()
        .map(|b| *b)
        .map_err(|_| DecodeError::TypeMismatch {
            type_name: codec.type_name(),
            reason: format!("read as `{}`", std::any::type_name::<T>()),
        })
}
