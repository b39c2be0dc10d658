//! Reading a dead-letter topic: [`DeadLetter`]s as the product's committed
//! transactions wrote them, read by a [`DeadLetterReader`].
//!
//! A read is a snapshot: each partition from where it starts up to the end
//! it has when the read starts, at read_committed (so up to the last stable
//! offset: a record of a transaction still open is not waited for). It
//! assigns partitions itself, so it joins no consumer group and commits
//! nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::DlqError;
use crate::catalog::Timestamp;
use crate::config::Config;
use crate::dlq_headers;

/// How long a read (or a replay) may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One dead letter: the rejected record (its key, value, headers and
/// timestamp, as the product read them) where it sits in the dead-letter
/// topic, with the runtime's `meshkit.dlq.*` headers saying why.
///
/// # Examples
///
/// ```
/// use meshkit::dlq::DeadLetter;
/// use meshkit::dlq_headers;
///
/// let letter = DeadLetter {
///     partition: 0,
///     offset: 7,
///     timestamp: None,
///     key: None,
///     value: Some(b"{\"id\": 1}".to_vec()),
///     headers: vec![
///         (dlq_headers::REASON.to_string(), Some(b"bad-magic".to_vec())),
///         (dlq_headers::SOURCE_TOPIC.to_string(), Some(b"sales.orders".to_vec())),
///         (dlq_headers::SOURCE_PARTITION.to_string(), Some(b"3".to_vec())),
///     ],
/// };
/// assert_eq!(letter.reason(), Some("bad-magic"));
/// assert_eq!(letter.source_topic(), Some("sales.orders"));
/// assert_eq!(letter.source_partition(), Some(3));
/// assert_eq!(letter.source_offset(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// The record's timestamp (the rejected record's own), when it has one.
    pub timestamp: Option<Timestamp>,
    /// The record's key.
    pub key: Option<Vec<u8>>,
    /// The record's value.
    pub value: Option<Vec<u8>>,
    /// Its headers in order: the rejected record's own, then the runtime's
    /// `meshkit.dlq.*` ones.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

impl DeadLetter {
    /// The last header named `name` as UTF-8 text, if there is one and it
    /// is text. The last: the runtime appends its headers after the
    /// record's own, so a record that was already a dead letter once keeps
    /// its old ones before the new.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Why it was dead-lettered (`meshkit.dlq.reason`).
    pub fn reason(&self) -> Option<&str> {
        self.header(dlq_headers::REASON)
    }

    /// The error message (`meshkit.dlq.error`).
    pub fn error(&self) -> Option<&str> {
        self.header(dlq_headers::ERROR)
    }

    /// The topic it was read from (`meshkit.dlq.source.topic`).
    pub fn source_topic(&self) -> Option<&str> {
        self.header(dlq_headers::SOURCE_TOPIC)
    }

    /// The partition it was read from (`meshkit.dlq.source.partition`).
    pub fn source_partition(&self) -> Option<i32> {
        self.header(dlq_headers::SOURCE_PARTITION)?.parse().ok()
    }

    /// Its offset there (`meshkit.dlq.source.offset`).
    pub fn source_offset(&self) -> Option<i64> {
        self.header(dlq_headers::SOURCE_OFFSET)?.parse().ok()
    }

    /// The product that rejected it, `domain/name@version`
    /// (`meshkit.dlq.product`).
    pub fn product(&self) -> Option<&str> {
        self.header(dlq_headers::PRODUCT)
    }

    /// How many times the transform was tried (`meshkit.dlq.attempts`).
    pub fn attempts(&self) -> Option<u32> {
        self.header(dlq_headers::ATTEMPTS)?.parse().ok()
    }

    /// The writer schema id of its value, when it could be read
    /// (`meshkit.dlq.schema.id`).
    pub fn schema_id(&self) -> Option<u32> {
        self.header(dlq_headers::SCHEMA_ID)?.parse().ok()
    }

    fn from_message(message: &BorrowedMessage<'_>) -> Self {
        let headers = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message
                .timestamp()
                .to_millis()
                .and_then(|ms| u64::try_from(ms).ok())
                .map(Timestamp::from_millis),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers,
        }
    }
}

/// Reads a dead-letter topic, with the Kafka settings (brokers, TLS, SASL
/// and other `MESHKIT_KAFKA_*` properties) of a [`Config`].
///
/// # Examples
///
/// ```no_run
/// use meshkit::dlq::DeadLetterReader;
/// use meshkit::Config;
///
/// let config = Config::builder().brokers("127.0.0.1:9092").build()?;
/// for letter in DeadLetterReader::new(&config, "sales.orders-enriched.dlq")?.read()? {
///     println!("{}/{}: {:?}", letter.partition, letter.offset, letter.reason());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DeadLetterReader {
    pub(super) client: Client,
    topic: String,
}

impl DeadLetterReader {
    /// A reader of dead-letter topic `topic` on `config`'s brokers, with a
    /// [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`DlqError::NoBrokers`] if `config` names no brokers.
    pub fn new(config: &Config, topic: impl Into<String>) -> Result<Self, DlqError> {
        Ok(Self {
            client: Client::new(config)?,
            topic: topic.into(),
        })
    }

    /// The longest the whole read may take (reaching the brokers included).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client.timeout = timeout;
        self
    }

    /// The dead-letter topic it reads.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Reads the whole topic (to the ends it has when called), calling `f`
    /// with each dead letter in partition order, offsets ascending in each.
    ///
    /// This blocks the calling thread for up to the timeout; from async
    /// code, call it in `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`DlqError::UnknownTopic`] when the topic does not exist; otherwise
    /// the client could not be created, no broker answered, the brokers
    /// refused the topic, or the read did not finish in time.
    pub fn read_each(&self, f: impl FnMut(DeadLetter)) -> Result<(), DlqError> {
        let deadline = Instant::now() + self.client.timeout;
        let consumer = self.client.consumer(None)?;
        let found = self
            .client
            .read_topic(&consumer, &self.topic, &BTreeMap::new(), deadline, f)?;
        match found {
            Some(_) => Ok(()),
            None => Err(DlqError::UnknownTopic {
                topic: self.topic.clone(),
            }),
        }
    }

    /// Reads the whole topic into memory; see [`read_each`](Self::read_each).
    ///
    /// # Errors
    ///
    /// As [`read_each`](Self::read_each).
    pub fn read(&self) -> Result<Vec<DeadLetter>, DlqError> {
        let mut letters = Vec::new();
        self.read_each(|letter| letters.push(letter))?;
        Ok(letters)
    }
}

/// The brokers, properties and time limit every client of this module uses.
#[derive(Debug, Clone)]
pub(super) struct Client {
    pub(super) brokers: String,
    properties: BTreeMap<String, String>,
    pub(super) timeout: Duration,
}

/// What a topic read saw of each partition: the last offset read, if any.
pub(super) type LastRead = BTreeMap<i32, Option<i64>>;

impl Client {
    pub(super) fn new(config: &Config) -> Result<Self, DlqError> {
        let brokers = config.brokers().ok_or(DlqError::NoBrokers)?;
        Ok(Self {
            brokers: brokers.to_string(),
            properties: config.kafka_properties().clone(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    pub(super) fn config(&self) -> ClientConfig {
        let mut client = ClientConfig::new();
        client.set("bootstrap.servers", &self.brokers);
        for (name, value) in &self.properties {
            client.set(name, value);
        }
        client
    }

    pub(super) fn client_error(&self, source: KafkaError) -> DlqError {
        DlqError::Client {
            brokers: self.brokers.clone(),
            source: Box::new(source),
        }
    }

    /// A read_committed consumer that commits nothing itself, in `group`
    /// (only to read and commit that group's offsets: it never joins it),
    /// else in a fresh group nobody uses.
    pub(super) fn consumer(&self, group: Option<&str>) -> Result<BaseConsumer, DlqError> {
        let group = group.map_or_else(
            || format!("meshkit-dlq-reader-{}", uuid::Uuid::new_v4()),
            str::to_string,
        );
        self.config()
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("allow.auto.create.topics", "false")
            .create()
            .map_err(|source| self.client_error(source))
    }

    /// The partitions of `topic`, or `None` when it does not exist. A topic
    /// whose leaders are being elected is asked about again until `deadline`.
    pub(super) fn partitions(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        deadline: Instant,
    ) -> Result<Option<Vec<i32>>, DlqError> {
        loop {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let metadata =
                consumer
                    .fetch_metadata(Some(topic), wait)
                    .map_err(|source| DlqError::BrokerUnreachable {
                        brokers: self.brokers.clone(),
                        timeout: self.timeout,
                        source: Box::new(source),
                    })?;
            let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
                return Ok(None);
            };
            let error = found.error().map(RDKafkaErrorCode::from).or_else(|| {
                found
                    .partitions()
                    .iter()
                    .find_map(|p| p.error().map(RDKafkaErrorCode::from))
            });
            match error {
                None => return Ok(Some(found.partitions().iter().map(|p| p.id()).collect())),
                Some(RDKafkaErrorCode::UnknownTopicOrPartition) if found.partitions().is_empty() => {
                    return Ok(None)
                }
                Some(
                    code @ (RDKafkaErrorCode::LeaderNotAvailable | RDKafkaErrorCode::NotLeaderForPartition),
                ) if Instant::now() >= deadline => {
                    return Err(DlqError::kafka(
                        topic,
                        "describing",
                        KafkaError::MetadataFetch(code),
                    ))
                }
                Some(RDKafkaErrorCode::LeaderNotAvailable | RDKafkaErrorCode::NotLeaderForPartition) => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Some(code) => {
                    return Err(DlqError::kafka(
                        topic,
                        "describing",
                        KafkaError::MetadataFetch(code),
                    ))
                }
            }
        }
    }

    /// Reads `topic` from `start` (by partition; the log's beginning for a
    /// partition not in it) to the ends it has now, calling `f` with each
    /// record. Returns the last offset read of each partition, or `None`
    /// when the topic does not exist.
    pub(super) fn read_topic(
        &self,
        consumer: &BaseConsumer,
        topic: &str,
        start: &BTreeMap<i32, i64>,
        deadline: Instant,
        mut f: impl FnMut(DeadLetter),
    ) -> Result<Option<LastRead>, DlqError> {
        let Some(partitions) = self.partitions(consumer, topic, deadline)? else {
            return Ok(None);
        };
        let mut last: LastRead = partitions.iter().map(|p| (*p, None)).collect();
        let mut ends: HashMap<i32, i64> = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            let wait = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1));
            let (low, high) = consumer
                .fetch_watermarks(topic, partition, wait)
                .map_err(|source| DlqError::kafka(topic, "reading the partition ends", source))?;
            let from = start.get(&partition).copied().unwrap_or(low).max(low);
            if from < high {
                ends.insert(partition, high);
                assignment
                    .add_partition_offset(topic, partition, Offset::Offset(from))
                    .map_err(|source| DlqError::kafka(topic, "assigning partitions", source))?;
            }
        }
        if ends.is_empty() {
            return Ok(Some(last));
        }
        consumer
            .assign(&assignment)
            .map_err(|source| DlqError::kafka(topic, "assigning partitions", source))?;
        while !ends.is_empty() {
            let wait = deadline.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                return Err(DlqError::Timeout {
                    topic: topic.to_string(),
                    timeout: self.timeout,
                    pending: ends.len(),
                });
            }
            match consumer.poll(wait.min(Duration::from_millis(200))) {
                None => {}
                Some(Ok(message)) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    let Some(&end) = ends.get(&partition) else {
                        continue;
                    };
                    if offset >= end {
                        ends.remove(&partition);
                        continue;
                    }
                    last.insert(partition, Some(offset));
                    f(DeadLetter::from_message(&message));
                    if offset + 1 >= end {
                        ends.remove(&partition);
                    }
                }
                // At read_committed a partition ending in markers or in an
                // open transaction never yields its last offsets, but it
                // reports that nothing more is readable now.
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    ends.remove(&partition);
                }
                Some(Err(err)) => {
                    // Transient (a broker reconnecting, a leader moving):
                    // the client retries by itself; the deadline bounds it.
                    tracing::debug!(error = %crate::ErrorChain(&err), topic, "dead-letter read: consumer error");
                }
            }
        }
        Ok(Some(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(headers: &[(&str, &[u8])]) -> DeadLetter {
        DeadLetter {
            partition: 1,
            offset: 2,
            timestamp: Some(Timestamp::from_millis(5)),
            key: None,
            value: None,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_vec())))
                .collect(),
        }
    }

    #[test]
    fn the_runtime_headers_are_read_and_the_last_of_a_name_wins() {
        let l = letter(&[
            (dlq_headers::REASON, b"old"),
            ("app", b"x"),
            (dlq_headers::REASON, b"negative-amount"),
            (dlq_headers::ERROR, b"amount -5"),
            (dlq_headers::SOURCE_TOPIC, b"sales.orders"),
            (dlq_headers::SOURCE_PARTITION, b"4"),
            (dlq_headers::SOURCE_OFFSET, b"1234"),
            (dlq_headers::PRODUCT, b"sales/orders@1.0.0"),
            (dlq_headers::ATTEMPTS, b"3"),
            (dlq_headers::SCHEMA_ID, b"42"),
        ]);
        assert_eq!(l.reason(), Some("negative-amount"));
        assert_eq!(l.error(), Some("amount -5"));
        assert_eq!(l.source_topic(), Some("sales.orders"));
        assert_eq!(l.source_partition(), Some(4));
        assert_eq!(l.source_offset(), Some(1234));
        assert_eq!(l.product(), Some("sales/orders@1.0.0"));
        assert_eq!(l.attempts(), Some(3));
        assert_eq!(l.schema_id(), Some(42));
        assert_eq!(l.header("app"), Some("x"));
    }

    #[test]
    fn missing_or_malformed_headers_read_as_none() {
        let l = letter(&[
            (dlq_headers::SOURCE_PARTITION, b"four"),
            (dlq_headers::REASON, &[0xff, 0xfe]),
        ]);
        assert_eq!(l.source_partition(), None);
        assert_eq!(l.reason(), None, "not UTF-8");
        assert_eq!(l.source_topic(), None);
        assert_eq!(l.schema_id(), None);
    }
}
