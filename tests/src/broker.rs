//! The broker under test: its address, fresh topics, input data, and what a
//! consumer group committed.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The environment variable that names the test broker (`host:port`).
pub const BROKERS_ENV: &str = "MESHKIT_TEST_BROKERS";

/// Set (to anything but `0`) where a broker test must not skip: CI sets it,
/// so that a missing broker fails the run instead of passing it emptily.
pub const REQUIRE_BROKER_ENV: &str = "MESHKIT_TEST_REQUIRE_BROKER";

/// The test broker's address, or `None` (and a line saying the test is
/// skipped) when `MESHKIT_TEST_BROKERS` is not set.
///
/// # Panics
/// When `MESHKIT_TEST_REQUIRE_BROKER` is set and no broker is.
pub fn test_brokers(test: &str) -> Option<String> {
    match std::env::var(BROKERS_ENV) {
        Ok(brokers) if !brokers.trim().is_empty() => Some(brokers),
        _ if broker_required() => panic!(
            "{test} needs the test broker: {BROKERS_ENV} is not set and {REQUIRE_BROKER_ENV} is \
             (start one with: eval \"$(bash scripts/start-broker.sh)\")"
        ),
        _ => {
            eprintln!("skipped {test}: {BROKERS_ENV} is not set (scripts/start-broker.sh starts a broker)");
            None
        }
    }
}

/// Whether `MESHKIT_TEST_REQUIRE_BROKER` asks broker tests never to skip.
pub fn broker_required() -> bool {
    std::env::var(REQUIRE_BROKER_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A topic name no other test uses.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates `topic` with `partitions` partitions, every setting explicit.
pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) -> anyhow::Result<()> {
    create_replicated_topic(brokers, topic, partitions, 1).await
}

/// Creates `topic` with `partitions` partitions of `replication` replicas,
/// of which a write needs all but one (`min.insync.replicas`, at least 1).
pub async fn create_replicated_topic(
    brokers: &str,
    topic: &str,
    partitions: i32,
    replication: i32,
) -> anyhow::Result<()> {
    let min_isr = (replication - 1).max(1).to_string();
    create_topic_with(
        brokers,
        topic,
        partitions,
        replication,
        &[("min.insync.replicas", &min_isr)],
    )
    .await
}

/// Creates `topic` with these settings besides the tests' usual ones.
pub async fn create_topic_with(
    brokers: &str,
    topic: &str,
    partitions: i32,
    replication: i32,
    settings: &[(&str, &str)],
) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication))
        .set("cleanup.policy", "delete")
        .set("retention.ms", "-1");
    for (name, value) in settings {
        new = new.set(name, value);
    }
    let results = admin
        .create_topics(
            [&new],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await?;
    for result in results {
        if let Err((name, code)) = result {
            bail!("cannot create topic {name}: {code}");
        }
    }
    Ok(())
}

/// The id carried by input record `i`.
pub fn input_id(i: usize) -> String {
    format!("id-{i:07}")
}

/// The key of input `i` when inputs are spread over `keys` keys.
pub fn input_key(i: usize, keys: usize) -> String {
    format!("k-{}", i % keys)
}

/// Produces ids `range` to `topic` (key and value = the id), spread over
/// partitions by key, without transactions, and waits until all are acked.
pub fn produce_ids(brokers: &str, topic: &str, range: std::ops::Range<usize>) -> anyhow::Result<()> {
    produce_with_keys(brokers, topic, range, input_id)
}

/// [`produce_ids`] on a blocking thread, for async tests; panics if it fails.
pub async fn produce_ids_off_thread(brokers: &str, topic: &str, range: std::ops::Range<usize>) {
    let (brokers, topic) = (brokers.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || produce_ids(&brokers, &topic, range))
        .await
        .expect("join")
        .expect("inputs");
}

/// Produces ids `range` to `topic`, keyed `k-<i % keys>`.
pub fn produce_keyed(
    brokers: &str,
    topic: &str,
    range: std::ops::Range<usize>,
    keys: usize,
) -> anyhow::Result<()> {
    produce_with_keys(brokers, topic, range, |i| input_key(i, keys))
}

/// Produces ids `range` to `topic`, input `i` keyed `key(i)`.
pub fn produce_with_keys(
    brokers: &str,
    topic: &str,
    range: std::ops::Range<usize>,
    key: impl Fn(usize) -> String,
) -> anyhow::Result<()> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create()?;
    for i in range {
        let id = input_id(i);
        let key = key(i);
        send_with_backpressure(&producer, BaseRecord::to(topic).key(&key).payload(&id))
            .context("producing inputs")?;
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing inputs")?;
    Ok(())
}

/// Sends `record`, serving delivery reports while the client's queue is full.
pub fn send_with_backpressure<K, P>(
    producer: &BaseProducer,
    mut record: BaseRecord<'_, K, P>,
) -> KafkaResult<()>
where
    K: rdkafka::message::ToBytes + ?Sized,
    P: rdkafka::message::ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(10));
            }
            Err((err, _)) => return Err(err),
        }
    }
}

/// Each partition's end offset (high watermark) of `topic`.
pub fn end_offsets(brokers: &str, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    end_offsets_with(&consumer, topic)
}

fn end_offsets_with(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut ends = HashMap::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            let (_, high) = consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(10))?;
            ends.insert(p.id(), high);
        }
    }
    Ok(ends)
}

/// The offsets group `group` has committed for `topic`, per partition
/// (partitions with no committed offset are absent).
pub fn committed_offsets(brokers: &str, group: &str, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
    // Read uncommitted: the client then does not ask for stable offsets.
    // Asking for them, it waits while a killed product's transaction holds
    // offsets it sent but never committed (until the broker aborts it,
    // tens of seconds later); without, the broker answers at once with the
    // offsets committed so far, which is what progress is.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("isolation.level", "read_uncommitted")
        .create()?;
    // One client for both requests: a read is one connection, not two.
    let ends = end_offsets_with(&consumer, topic)?;
    let mut tpl = TopicPartitionList::new();
    for partition in ends.keys() {
        tpl.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10))?;
    // A partition's own error (an offset commit not yet stable, say) comes
    // with no offset: not "nothing committed".
    for element in committed.elements() {
        element
            .error()
            .with_context(|| format!("committed offset of partition {}", element.partition()))?;
    }
    Ok(committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

/// Counts how many times each value occurs.
pub fn occurrences<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for value in values {
        *counts
            .entry(String::from_utf8_lossy(value).into_owned())
            .or_insert(0) += 1;
    }
    counts
}

/// A record as a plain consumer reads it.
#[derive(Debug, Clone)]
pub struct ReadRecord {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value.
    pub value: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Timestamp in milliseconds, if it has one.
    pub timestamp: Option<i64>,
}

impl ReadRecord {
    /// The first header named `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }
}

/// Reads `topic` from the beginning with a consumer at `isolation` level
/// (`read_committed` or `read_uncommitted`) until at least `expected` records
/// arrived and nothing more came for a second, or `timeout` passed.
pub fn read_topic(
    brokers: &str,
    topic: &str,
    isolation: &str,
    expected: usize,
    timeout: Duration,
) -> anyhow::Result<Vec<ReadRecord>> {
    use rdkafka::message::{Headers, Message};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", unique_name("reader"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()?;
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
        }
    }
    consumer.assign(&tpl)?;
    let start = std::time::Instant::now();
    let mut last = std::time::Instant::now();
    let mut out = Vec::new();
    while start.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last = std::time::Instant::now();
                out.push(ReadRecord {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers: m
                        .headers()
                        .map(|h| {
                            h.iter()
                                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                                .collect()
                        })
                        .unwrap_or_default(),
                    timestamp: m.timestamp().to_millis(),
                });
            }
            Some(Err(err)) => return Err(err).context("reading topic"),
            None if out.len() >= expected && last.elapsed() > Duration::from_secs(1) => break,
            None => {}
        }
    }
    Ok(out)
}

/// One record for [`produce_placed`]: partition, key, value and, if given,
/// timestamp (ms).
pub type Placed = (i32, Vec<u8>, Vec<u8>, Option<i64>);

/// Produces `records` in order, each to its partition, idempotently, and
/// waits until every one is acknowledged. Panics, saying which step
/// failed, otherwise.
pub async fn produce_placed(brokers: &str, topic: &str, records: impl IntoIterator<Item = Placed>) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut deliveries = Vec::new();
    for (partition, key, value, timestamp) in records {
        let mut record = FutureRecord::to(topic)
            .key(&key)
            .payload(&value)
            .partition(partition);
        if let Some(at) = timestamp {
            record = record.timestamp(at);
        }
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("queued"));
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("delivery reported")
            .map_err(|(e, _)| e)
            .expect("record acknowledged");
    }
}
