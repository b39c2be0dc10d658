//! Reading the whole catalog topic into a [`Catalog`]: what `meshkit catalog
//! list/show/search` and `meshkit contract export` are built on.
//!
//! A read is a snapshot: every partition from its beginning up to its high
//! watermark *as of the read* (records written meanwhile are not waited
//! for). It uses partition assignment only, so it joins no consumer group,
//! triggers no rebalance in anyone's group and commits no offset; running it
//! has no effect on the cluster.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::record::{Catalog, CATALOG_TOPIC};
use crate::config::Config;

/// How long a read may take by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many skipped records a [`CatalogSnapshot`] describes one by one (all
/// are counted); a topic of foreign data should not fill memory with reasons.
const MAX_SKIPPED_DETAILS: usize = 32;

/// Why the catalog topic could not be read.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{CatalogReadError, CatalogReader};
/// use meshkit::Config;
///
/// // No brokers configured: there is nothing to read from.
/// let err = CatalogReader::new(&Config::builder().build()?).unwrap_err();
/// assert!(matches!(err, CatalogReadError::NoBrokers));
/// assert!(!err.is_retriable());
/// # Ok::<(), meshkit::ConfigError>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogReadError {
    /// The configuration names no brokers. The embedded local cluster lives
    /// inside a running product's process, so a reader cannot start its own.
    #[error(
        "no Kafka brokers configured (setting `brokers`, env MESHKIT_BROKERS); an embedded cluster \
         lives inside a running product's process: use the address in that product's log or health"
    )]
    NoBrokers,
    /// The Kafka client could not be created (usually a wrong pass-through
    /// property, `MESHKIT_KAFKA_*`).
    #[error("cannot create a Kafka client for `{brokers}` (check the MESHKIT_KAFKA_* properties)")]
    Client {
        /// The bootstrap list.
        brokers: String,
        /// The client's error (boxed: it is large, and errors travel far).
        #[source]
        source: Box<KafkaError>,
    },
    /// No broker answered in time.
    #[error(
        "cannot reach the Kafka brokers `{brokers}` within {timeout:?}; \
         check the address and that they run, then retry"
    )]
    BrokerUnreachable {
        /// The bootstrap list tried.
        brokers: String,
        /// How long the reader waited.
        timeout: Duration,
        /// The client's error (boxed: it is large, and errors travel far).
        #[source]
        source: Box<KafkaError>,
    },
    /// The brokers refused to describe or serve the topic.
    #[error("cannot read catalog topic `{topic}` on `{brokers}`: {operation} failed")]
    Kafka {
        /// The catalog topic.
        topic: String,
        /// The bootstrap list.
        brokers: String,
        /// What the reader was doing.
        operation: &'static str,
        /// The client's error (boxed: it is large, and errors travel far).
        #[source]
        source: Box<KafkaError>,
    },
    /// The brokers answered, but the topic was not read to its end in time.
    #[error(
        "catalog topic `{topic}` on `{brokers}` was not read to its end within {timeout:?} \
         ({pending} partition(s) left); retry, or allow more time"
    )]
    Timeout {
        /// The catalog topic.
        topic: String,
        /// The bootstrap list.
        brokers: String,
        /// The time allowed.
        timeout: Duration,
        /// Partitions not read to their end.
        pending: usize,
    },
    /// A [`CatalogFollower`](super::CatalogFollower)'s thread could not be
    /// started.
    #[error("cannot start the catalog follower's thread")]
    Thread {
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl CatalogReadError {
    /// Whether reading again (unchanged) may succeed: `true` for brokers that
    /// did not answer and for reads that ran out of time.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::BrokerUnreachable { .. } | Self::Timeout { .. } => true,
            Self::Kafka { source, .. } => matches!(
                source.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::BrokerTransportFailure
                        | RDKafkaErrorCode::AllBrokersDown
                        | RDKafkaErrorCode::OperationTimedOut
                        | RDKafkaErrorCode::RequestTimedOut
                        | RDKafkaErrorCode::LeaderNotAvailable
                        | RDKafkaErrorCode::NotLeaderForPartition
                )
            ),
            _ => false,
        }
    }
}

/// A catalog topic record that was skipped because it could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Why it was skipped.
    pub reason: String,
}

/// The outcome of one [`CatalogReader::read`]: the catalog, and what the
/// reader noticed on the way.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    catalog: Catalog,
    brokers: String,
    topic: String,
    topic_exists: bool,
    records_read: u64,
    skipped_count: u64,
    skipped: Vec<SkippedRecord>,
}

impl CatalogSnapshot {
    /// The catalog read.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog read, by value.
    pub fn into_catalog(self) -> Catalog {
        self.catalog
    }

    /// The brokers read from.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// The catalog topic read.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Whether the catalog topic exists (it does once a product registered).
    pub fn topic_exists(&self) -> bool {
        self.topic_exists
    }

    /// How many records were read (including tombstones and skipped ones).
    pub fn records_read(&self) -> u64 {
        self.records_read
    }

    /// How many records could not be decoded and were skipped.
    pub fn skipped_count(&self) -> u64 {
        self.skipped_count
    }

    /// The first skipped records, with their reasons (at most 32; see
    /// [`skipped_count`](Self::skipped_count) for all).
    pub fn skipped(&self) -> &[SkippedRecord] {
        &self.skipped
    }

    /// A sentence for people when the catalog is empty because no product
    /// has registered yet (the topic does not exist); `None` otherwise.
    pub fn note(&self) -> Option<String> {
        (!self.topic_exists).then(|| {
            format!(
                "no product has registered yet on {} (catalog topic `{}` does not exist)",
                self.brokers, self.topic
            )
        })
    }
}

/// Reads the catalog topic into a [`Catalog`], with the Kafka settings
/// (brokers, TLS, SASL and other `MESHKIT_KAFKA_*` properties) of a
/// [`Config`].
///
/// Records that are not meshkit catalog records (bad key, bad JSON, another
/// tool's document) are skipped with a warning and counted; they never stop
/// the read. A tombstone removes its product.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use meshkit::catalog::CatalogReader;
/// use meshkit::Config;
///
/// let config = Config::builder().brokers("127.0.0.1:9092").build()?;
/// let snapshot = CatalogReader::new(&config)?
///     .timeout(Duration::from_secs(5))
///     .read()?;
/// if let Some(note) = snapshot.note() {
///     eprintln!("{note}");
/// }
/// for product in snapshot.catalog().list() {
///     println!("{} {}", product.key(), product.status);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CatalogReader {
    brokers: String,
    properties: BTreeMap<String, String>,
    topic: String,
    timeout: Duration,
}

impl CatalogReader {
    /// A reader of [`CATALOG_TOPIC`] on `config`'s brokers, with its Kafka
    /// properties and a [`DEFAULT_READ_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`CatalogReadError::NoBrokers`] if `config` names no brokers.
    pub fn new(config: &Config) -> Result<Self, CatalogReadError> {
        let brokers = config.brokers().ok_or(CatalogReadError::NoBrokers)?;
        Ok(Self {
            brokers: brokers.to_string(),
            properties: config.kafka_properties().clone(),
            topic: CATALOG_TOPIC.to_string(),
            timeout: DEFAULT_READ_TIMEOUT,
        })
    }

    /// Reads `topic` instead of [`CATALOG_TOPIC`].
    #[must_use]
    pub fn topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = topic.into();
        self
    }

    /// The longest the whole read may take (reaching the brokers included).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The brokers it reads from.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }

    /// Reads the catalog topic to the high watermarks it has when called.
    ///
    /// This blocks the calling thread for up to the timeout; from async code,
    /// call it in `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// A [`CatalogReadError`]: the client could not be created, no broker
    /// answered, the brokers refused the topic, or the read did not finish
    /// in time. A missing topic is not an error: it is an empty catalog
    /// whose [`note`](CatalogSnapshot::note) says so.
    ///
    /// Running instances that missed their heartbeats are marked failed in
    /// the snapshot ([`CatalogRecord::expire_stale`](super::CatalogRecord::expire_stale)).
    pub fn read(&self) -> Result<CatalogSnapshot, CatalogReadError> {
        let deadline = Instant::now() + self.timeout;
        let remaining = || deadline.saturating_duration_since(Instant::now());
        let consumer = self.consumer()?;
        let kafka = |operation, source| CatalogReadError::Kafka {
            topic: self.topic.clone(),
            brokers: self.brokers.clone(),
            operation,
            source: Box::new(source),
        };
        let mut snapshot = CatalogSnapshot {
            catalog: Catalog::new(),
            brokers: self.brokers.clone(),
            topic: self.topic.clone(),
            topic_exists: true,
            records_read: 0,
            skipped_count: 0,
            skipped: Vec::new(),
        };

        let Some(partitions) = self.describe(&consumer, deadline)? else {
            snapshot.topic_exists = false;
            return Ok(snapshot);
        };

        // The end of each partition as of now; records written later are
        // not waited for, so the read finishes on a busy topic too.
        let mut ends: BTreeMap<i32, i64> = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            // Only the high watermark is used: when librdkafka retries one of
            // the two offset queries itself (a leader moving), the answers
            // can come back in an order that reports the low watermark as
            // the high one, and starting there would skip the partition.
            // The log's start is asked for by name instead.
            let (_, high) = asking_again(deadline, KafkaError::rdkafka_error_code, |wait| {
                consumer.fetch_watermarks(&self.topic, partition, wait)
            })
            .map_err(|source| kafka("reading the partition ends", source))?;
            if high > 0 {
                ends.insert(partition, high);
                assignment
                    .add_partition_offset(&self.topic, partition, Offset::Beginning)
                    .map_err(|source| kafka("assigning partitions", source))?;
            }
        }
        if ends.is_empty() {
            return Ok(snapshot);
        }
        consumer
            .assign(&assignment)
            .map_err(|source| kafka("assigning partitions", source))?;

        while !ends.is_empty() {
            let wait = remaining();
            if wait.is_zero() {
                return Err(CatalogReadError::Timeout {
                    topic: self.topic.clone(),
                    brokers: self.brokers.clone(),
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
                    snapshot.records_read += 1;
                    self.apply(&mut snapshot, partition, offset, message.key(), message.payload());
                    if offset + 1 >= end {
                        ends.remove(&partition);
                    }
                }
                // Read committed: a partition ending in transaction markers
                // or an open transaction never yields its last offsets, but
                // it does report that nothing more is readable.
                Some(Err(KafkaError::PartitionEOF(partition))) => {
                    ends.remove(&partition);
                }
                Some(Err(err)) => {
                    // Transient (a broker reconnecting, a leader moving): the
                    // client retries by itself; the deadline bounds it.
                    tracing::debug!(error = %crate::ErrorChain(&err), topic = %self.topic, "catalog read: consumer error");
                }
            }
        }
        // A crash leaves no clean stop: entries that stopped heartbeating
        // are shown as failed rather than running forever.
        snapshot.catalog.expire_stale(super::Timestamp::now());
        Ok(snapshot)
    }

    /// The topic's partitions, or `None` when it does not exist. A topic
    /// whose leaders are still being elected (just created by a product
    /// starting beside this read, or a broker restarting) is asked again
    /// until the deadline.
    fn describe(
        &self,
        consumer: &BaseConsumer,
        deadline: Instant,
    ) -> Result<Option<Vec<i32>>, CatalogReadError> {
        let code = |err: &CatalogReadError| match err {
            CatalogReadError::Kafka { source, .. } => source.rdkafka_error_code(),
            _ => None,
        };
        asking_again(deadline, code, |wait| self.describe_once(consumer, wait))
    }

    /// One metadata request for the topic: its partitions, `None` when it
    /// does not exist, or the error it or one of its partitions reports.
    fn describe_once(
        &self,
        consumer: &BaseConsumer,
        wait: Duration,
    ) -> Result<Option<Vec<i32>>, CatalogReadError> {
        let metadata = consumer
            .fetch_metadata(Some(self.topic.as_str()), wait)
            .map_err(|source| CatalogReadError::BrokerUnreachable {
                brokers: self.brokers.clone(),
                timeout: self.timeout,
                source: Box::new(source),
            })?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == self.topic) else {
            return Ok(None);
        };
        let error = topic.error().map(RDKafkaErrorCode::from).or_else(|| {
            topic
                .partitions()
                .iter()
                .find_map(|p| p.error().map(RDKafkaErrorCode::from))
        });
        match error {
            None => Ok(Some(topic.partitions().iter().map(|p| p.id()).collect())),
            Some(RDKafkaErrorCode::UnknownTopicOrPartition) if topic.partitions().is_empty() => Ok(None),
            Some(code) => Err(CatalogReadError::Kafka {
                topic: self.topic.clone(),
                brokers: self.brokers.clone(),
                operation: "describing the topic",
                source: Box::new(KafkaError::MetadataFetch(code)),
            }),
        }
    }

    /// The topic it reads.
    pub(super) fn topic_name(&self) -> &str {
        &self.topic
    }

    pub(super) fn consumer(&self) -> Result<BaseConsumer, CatalogReadError> {
        let mut client = rdkafka::ClientConfig::new();
        client.set("bootstrap.servers", &self.brokers);
        for (name, value) in &self.properties {
            client.set(name, value);
        }
        // librdkafka needs a group id to assign partitions; a fresh one is
        // never joined (assign, not subscribe) and nothing is committed.
        client
            .set(
                "group.id",
                format!("meshkit-catalog-reader-{}", uuid::Uuid::new_v4()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed")
            .set("allow.auto.create.topics", "false");
        client.create().map_err(|source| CatalogReadError::Client {
            brokers: self.brokers.clone(),
            source: Box::new(source),
        })
    }

    fn apply(
        &self,
        snapshot: &mut CatalogSnapshot,
        partition: i32,
        offset: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
    ) {
        let result = match key {
            Some(key) => snapshot.catalog.apply(key, value).map_err(|e| e.to_string()),
            None => Err("it has no key (expected `domain/name`)".to_string()),
        };
        if let Err(reason) = result {
            tracing::warn!(
                topic = %self.topic,
                partition,
                offset,
                reason = %reason,
                "skipping a catalog record that cannot be decoded"
            );
            snapshot.skipped_count += 1;
            if snapshot.skipped.len() < MAX_SKIPPED_DETAILS {
                snapshot.skipped.push(SkippedRecord {
                    partition,
                    offset,
                    reason,
                });
            }
        }
    }
}

/// How long a read waits before asking again about a partition whose leader
/// is moving.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Answers a broker gives while a partition has no leader it knows of yet:
/// the topic was just created, or its leader is moving. Asking again helps.
fn leader_moving(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::UnknownTopicOrPartition
    )
}

/// Runs `ask` with the time left until `deadline`, again after a short
/// pause while the answer is an error whose broker code (`code`) says that
/// a leader is moving.
fn asking_again<T, E: std::fmt::Display>(
    deadline: Instant,
    code: impl Fn(&E) -> Option<RDKafkaErrorCode>,
    mut ask: impl FnMut(Duration) -> Result<T, E>,
) -> Result<T, E> {
    loop {
        match ask(deadline.saturating_duration_since(Instant::now())) {
            Err(err) if code(&err).is_some_and(leader_moving) && Instant::now() + RETRY_PAUSE < deadline => {
                tracing::debug!(error = %err, "catalog read: a leader is moving; asking again");
                std::thread::sleep(RETRY_PAUSE);
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
    use rdkafka::ClientConfig;

    use super::*;
    use crate::catalog::{CatalogRecord, DescriptorInput, InstanceRecord, PortInput, ProductKey, Timestamp};
    use crate::EmbeddedCluster;

    fn record(domain: &str, name: &str, owner: &str) -> CatalogRecord {
        let d = DescriptorInput::new(domain, name, "1.0.0", owner)
            .input(PortInput::new("in", format!("{domain}.{name}.in")))
            .output(PortInput::new("out", format!("{domain}.{name}.out")));
        let now = Timestamp::from_millis(1_000);
        CatalogRecord::register(None, &d, InstanceRecord::running("i-1", "host", now), now)
    }

    /// A record to produce: partition, key, value (`None`: a tombstone).
    type Raw<'a> = (i32, Option<&'a [u8]>, Option<&'a [u8]>);

    /// Produces records; a key's records go to one partition, as a keyed
    /// producer would send them.
    fn produce(brokers: &str, topic: &str, records: &[Raw<'_>]) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .expect("producer");
        for (partition, key, value) in records {
            let mut r: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).partition(*partition);
            if let Some(key) = key {
                r = r.key(*key);
            }
            if let Some(value) = value {
                r = r.payload(*value);
            }
            producer.send(r).map_err(|(e, _)| e).expect("send");
        }
        producer.flush(Duration::from_secs(10)).expect("flush");
    }

    fn reader(brokers: &str) -> CatalogReader {
        let config = Config::builder().brokers(brokers).build().expect("config");
        CatalogReader::new(&config)
            .expect("reader")
            .timeout(Duration::from_secs(20))
    }

    #[test]
    fn reads_every_partition_applying_tombstones_and_skipping_bad_records() {
        let cluster = EmbeddedCluster::start().expect("cluster");
        let brokers = cluster.bootstrap_servers().to_string();
        cluster.create_topic(CATALOG_TOPIC, 3).expect("topic");
        let a = record("sales", "orders", "team-sales");
        let b = record("finance", "ledger", "team-fin");
        let c = record("ops", "audit", "team-ops");
        let mut stopped = a.clone();
        stopped.mark_stopped("i-1", Timestamp::from_millis(2_000));
        let (ka, kb, kc) = (a.key().to_bytes(), b.key().to_bytes(), c.key().to_bytes());
        let (ka, kb, kc) = (ka.as_slice(), kb.as_slice(), kc.as_slice());
        let (va, vb, vc, vs) = (
            a.encode().expect("a"),
            b.encode().expect("b"),
            c.encode().expect("c"),
            stopped.encode().expect("stopped"),
        );
        let (va, vb, vc, vs) = (va.as_slice(), vb.as_slice(), vc.as_slice(), vs.as_slice());
        let junk: (&[u8], &[u8]) = (b"junk/record", b"{not json");
        produce(
            &brokers,
            CATALOG_TOPIC,
            &[
                (0, Some(ka), Some(va)),
                (1, Some(kb), Some(vb)),
                (2, Some(kc), Some(vc)),
                (1, Some(junk.0), Some(junk.1)),
                (2, Some(kc), None),
                (0, None, Some(va)),
                // Later in `a`'s partition: it wins.
                (0, Some(ka), Some(vs)),
            ],
        );

        let snapshot = reader(&brokers).read().expect("read");
        assert!(snapshot.topic_exists());
        assert_eq!(snapshot.note(), None);
        assert_eq!(snapshot.records_read(), 7);
        assert_eq!(snapshot.skipped_count(), 2, "{:?}", snapshot.skipped());
        // Partitions interleave: the skipped records come in either order.
        let reasons: Vec<&str> = snapshot.skipped().iter().map(|s| s.reason.as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("junk/record")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("no key")), "{reasons:?}");
        let catalog = snapshot.catalog();
        let keys: Vec<String> = catalog.list().map(|r| r.key().to_string()).collect();
        assert_eq!(
            keys,
            ["finance/ledger", "sales/orders"],
            "the tombstone removed ops/audit"
        );
        let orders = catalog.get(&ProductKey::new("sales", "orders")).expect("orders");
        assert_eq!(orders, &stopped, "the latest record of a key wins");
    }

    /// A catalog topic created a moment ago (by a product starting beside
    /// the read) answers "not leader" until its leader is elected; the read
    /// asks again instead of failing (it failed the CLI in CI), and a query
    /// librdkafka retried itself does not make it skip the partition (it
    /// read nothing here before).
    #[test]
    fn a_partition_whose_leader_is_moving_is_asked_again() {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        let brokers = mock.bootstrap_servers();
        mock.create_topic(CATALOG_TOPIC, 1, 1).expect("topic");
        let a = record("sales", "orders", "team-sales");
        let (key, value) = (a.key().to_bytes(), a.encode().expect("encode"));
        produce(
            &brokers,
            CATALOG_TOPIC,
            &[(0, Some(key.as_slice()), Some(value.as_slice()))],
        );
        use RDKafkaRespErr::{
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        };
        mock.request_errors(
            RDKafkaApiKey::ListOffsets,
            &[
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
                RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            ],
        );
        let snapshot = reader(&brokers).read().expect("read");
        assert_eq!(snapshot.records_read(), 1);
        let keys: Vec<String> = snapshot.catalog().list().map(|r| r.key().to_string()).collect();
        assert_eq!(keys, ["sales/orders"]);
    }

    /// An error that asking again cannot fix is reported at once.
    #[test]
    fn a_refusal_that_lasts_is_reported() {
        use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
        let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
        let brokers = mock.bootstrap_servers();
        mock.create_topic(CATALOG_TOPIC, 1, 1).expect("topic");
        mock.request_errors(
            RDKafkaApiKey::ListOffsets,
            &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED; 2],
        );
        let started = Instant::now();
        let err = reader(&brokers).read().unwrap_err();
        assert!(
            matches!(
                err,
                CatalogReadError::Kafka {
                    operation: "reading the partition ends",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retriable(), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not retried to the deadline"
        );
    }

    #[test]
    fn a_missing_topic_is_an_empty_catalog_with_a_note() {
        let cluster = EmbeddedCluster::start().expect("cluster");
        let brokers = cluster.bootstrap_servers().to_string();
        let snapshot = reader(&brokers).topic("no.such.catalog").read().expect("read");
        assert!(!snapshot.topic_exists());
        assert!(snapshot.catalog().is_empty());
        let note = snapshot.note().expect("a note");
        assert!(note.contains("no product has registered yet on"), "{note}");
        assert!(note.contains(&brokers), "{note}");
    }

    #[test]
    fn an_empty_topic_is_an_empty_catalog() {
        let cluster = EmbeddedCluster::start().expect("cluster");
        cluster.create_topic("empty.catalog", 2).expect("topic");
        let snapshot = reader(cluster.bootstrap_servers())
            .topic("empty.catalog")
            .read()
            .expect("read");
        assert!(snapshot.topic_exists());
        assert!(snapshot.catalog().is_empty());
        assert_eq!(snapshot.records_read(), 0);
    }

    #[test]
    fn an_unreachable_broker_is_a_retriable_error_naming_it() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let brokers = format!("127.0.0.1:{port}");
        let err = reader(&brokers)
            .timeout(Duration::from_secs(2))
            .read()
            .expect_err("no broker");
        assert!(
            matches!(err, CatalogReadError::BrokerUnreachable { .. }),
            "{err:?}"
        );
        assert!(err.is_retriable());
        let message = err.to_string();
        assert!(message.contains(&brokers), "{message}");
        assert!(message.contains("retry"), "{message}");
    }

    #[test]
    fn pass_through_properties_reach_the_client() {
        // The mock cluster speaks plaintext: a reader told to use TLS (as
        // MESHKIT_KAFKA_SECURITY_PROTOCOL would) cannot talk to it.
        let cluster = EmbeddedCluster::start().expect("cluster");
        let config = Config::builder()
            .brokers(cluster.bootstrap_servers())
            .kafka_property("security.protocol", "ssl")
            .build()
            .expect("config");
        let err = CatalogReader::new(&config)
            .expect("reader")
            .timeout(Duration::from_secs(2))
            .read()
            .expect_err("TLS against a plaintext listener");
        assert!(err.is_retriable(), "{err:?}");
        assert!(
            reader(cluster.bootstrap_servers()).read().is_ok(),
            "plaintext works"
        );
    }
}
