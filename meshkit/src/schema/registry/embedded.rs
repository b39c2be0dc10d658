//! [`EmbeddedRegistry`]: a schema registry with Confluent's semantics whose
//! contents live in a compacted, single-partition Kafka topic (`_schemas` by
//! default) in the record format of Confluent's registry, so that any number
//! of instances (one per process) can share one topic without a leader.
//!
//! Each instance keeps a [`RegistryState`] built by replaying the topic.
//! Every call first reads the topic up to its end; a change is then decided
//! against that state, appended (idempotent producer, `acks=all`), and the
//! topic is read up to and including the appended record to see whether the
//! replay rule (see [`RegistryState::apply`]) accepted it. If another instance
//! won the race for the same version or id, the change is decided again
//! (a bounded number of times).
//!
//! Cancel safety: a call dropped after its record was appended may still
//! take effect (the record is in the log, and every instance applies it on
//! its next read); a call dropped before that changes nothing.
//!
//! Cost: every call (reads too) first catches up with the topic, which takes
//! one ListOffsets round trip plus a ~20 ms poll; a change adds one produce
//! and reading it back (tens of milliseconds on a local broker).
//!
//! End of log: the broker's high watermark is read, records are consumed up
//! to it, and a final short poll must return nothing before the state counts
//! as caught up (some brokers under-report the high watermark).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::error::RegistryError;
use super::log::LogRecord;
use super::model::{
    CompatibilityLevel, CompatibilityReport, RegisteredSchema, SchemaDefinition, SchemaFilter, SchemaVersion,
    SubjectVersion, VersionRef,
};
use super::state::{Applied, Plan, RegistryState};
use super::{RegistryFuture, SchemaRegistry};

/// How long one Kafka request (metadata, produce, reading up to an offset) may take.
const KAFKA_TIMEOUT: Duration = Duration::from_secs(30);
/// The final poll that must find nothing past the high watermark, per call.
const SETTLE: Duration = Duration::from_millis(20);
/// The same when connecting (replaying the whole topic).
const SETTLE_ON_CONNECT: Duration = Duration::from_millis(250);
/// How long asking the cluster for its id may take (`GET /v1/metadata/id`).
const CLUSTER_ID_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a change is decided again after losing a race.
const MAX_ATTEMPTS: u32 = 10;

/// A schema registry with Confluent's semantics, kept in a compacted Kafka
/// topic (or only in memory, see [`EmbeddedRegistry::in_memory`]).
///
/// Implements [`SchemaRegistry`]; serve it over HTTP with
/// [`RegistryServer`](super::RegistryServer).
pub struct EmbeddedRegistry {
    backend: Backend,
}

enum Backend {
    Memory(Mutex<RegistryState>),
    Kafka(KafkaBackend),
}

impl fmt::Debug for EmbeddedRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.backend {
            Backend::Memory(_) => f
                .debug_struct("EmbeddedRegistry")
                .field("backend", &"memory")
                .finish(),
            Backend::Kafka(k) => f
                .debug_struct("EmbeddedRegistry")
                .field("backend", &"kafka")
                .field("topic", &k.topic)
                .finish(),
        }
    }
}

fn unavailable(what: impl Into<String>, err: KafkaError) -> RegistryError {
    RegistryError::Unavailable {
        reason: format!("{}: {err}", what.into()),
        source: Some(Box::new(err)),
    }
}

impl EmbeddedRegistry {
    /// The topic Confluent's registry uses, and the default here.
    pub const DEFAULT_TOPIC: &'static str = "_schemas";

    /// A registry kept only in this process's memory: for tests and for
    /// single-process use. Its contents are lost when it is dropped.
    pub fn in_memory() -> Self {
        Self {
            backend: Backend::Memory(Mutex::new(RegistryState::new())),
        }
    }

    /// Connects to the registry kept in `topic` (e.g.
    /// [`DEFAULT_TOPIC`](Self::DEFAULT_TOPIC)) on the Kafka cluster at
    /// `bootstrap_servers`, and replays the topic to its end before returning.
    ///
    /// The topic is created (one partition, `cleanup.policy=compact`,
    /// replication factor min(3, brokers)) if it does not exist. `extra` are
    /// further librdkafka client properties (security settings etc.), given to
    /// the producer, consumer and admin client alike.
    ///
    /// # Errors
    /// [`RegistryError::Unavailable`] if Kafka cannot be reached or fails
    /// (with the Kafka error as source); [`RegistryError::TopicMisconfigured`]
    /// if the topic exists with more than one partition.
    pub async fn connect<I, K, V>(
        bootstrap_servers: &str,
        topic: &str,
        extra: I,
    ) -> Result<Self, RegistryError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", bootstrap_servers);
        for (k, v) in extra {
            base.set(k.as_ref(), v.as_ref());
        }
        let mut consumer_config = base.clone();
        if consumer_config.get("group.id").is_none() {
            // librdkafka wants a group for `assign`; it is never joined or
            // committed to (the partition is assigned by hand).
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            consumer_config.set(
                "group.id",
                format!("meshkit-schema-registry-{}-{nanos}", std::process::id()),
            );
        }
        consumer_config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "100")
            .set("isolation.level", "read_committed");
        let consumer: BaseConsumer = consumer_config
            .create()
            .map_err(|e| unavailable("cannot create the registry's Kafka consumer", e))?;
        let producer: FutureProducer = crate::kafka::durable_producer_config(base.clone())
            .create()
            .map_err(|e| unavailable("cannot create the registry's Kafka producer", e))?;

        let consumer = Arc::new(consumer);
        let (partitions, brokers) = topic_partitions(&consumer, topic).await?;
        match partitions {
            Some(1) => check_cleanup_policy(&base, topic).await,
            Some(n) => {
                return Err(RegistryError::TopicMisconfigured {
                    topic: topic.to_string(),
                    reason: format!(
                        "it has {n} partitions; the registry needs a single partition so that all instances read its records in one order"
                    ),
                })
            }
            None => create_topic(&base, &consumer, topic, brokers).await?,
        }

        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, 0, Offset::Beginning)
            .map_err(|e| unavailable("cannot assign the registry topic", e))?;
        consumer
            .assign(&assignment)
            .map_err(|e| unavailable("cannot assign the registry topic", e))?;
        let tail = Tail {
            consumer,
            producer: producer.clone(),
            topic: topic.to_string(),
            state: RegistryState::new(),
            next_offset: 0,
            records: 0,
        };
        let guard = Arc::new(Mutex::new(tail)).lock_owned().await;
        let started = Instant::now();
        let guard = run_blocking(guard, |t| t.catch_up(SETTLE_ON_CONNECT)).await?.0;
        tracing::info!(
            topic,
            records = guard.records,
            next_offset = guard.next_offset,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "schema registry replayed its topic"
        );
        let tail = Arc::clone(OwnedMutexGuard::mutex(&guard));
        drop(guard);
        Ok(Self {
            backend: Backend::Kafka(KafkaBackend {
                lost_races: std::sync::atomic::AtomicU64::new(0),
                topic: topic.to_string(),
                producer,
                tail,
            }),
        })
    }

    /// How many changes lost a race to another instance and were decided
    /// again (0 in memory).
    #[cfg(test)]
    fn lost_races(&self) -> u64 {
        match &self.backend {
            Backend::Memory(_) => 0,
            Backend::Kafka(k) => k.lost_races.load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Runs a query against the state, caught up to the end of the topic.
    async fn read<T>(
        &self,
        query: impl FnOnce(&RegistryState) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        match &self.backend {
            Backend::Memory(state) => query(&*state.lock().await),
            Backend::Kafka(k) => {
                let guard = k.caught_up().await?;
                query(&guard.state)
            }
        }
    }

    /// Decides a change, persists it and returns its outcome once accepted.
    async fn write<T>(
        &self,
        decide: impl Fn(&RegistryState) -> Result<Plan<T>, RegistryError>,
    ) -> Result<T, RegistryError> {
        match &self.backend {
            Backend::Memory(state) => {
                let mut state = state.lock().await;
                let plan = decide(&state)?;
                state.commit(plan)
            }
            Backend::Kafka(k) => k.write(decide).await,
        }
    }
}

/// The partition count of `topic` (`None` if it does not exist) and the
/// number of brokers.
async fn topic_partitions(
    consumer: &Arc<BaseConsumer>,
    topic: &str,
) -> Result<(Option<usize>, usize), RegistryError> {
    let consumer = Arc::clone(consumer);
    let topic = topic.to_string();
    blocking(move || {
        let metadata = consumer
            .fetch_metadata(Some(&topic), KAFKA_TIMEOUT)
            .map_err(|e| unavailable(format!("cannot read the metadata of topic `{topic}`"), e))?;
        let partitions = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .map(|t| t.partitions().len())
            .filter(|n| *n > 0);
        Ok((partitions, metadata.brokers().len()))
    })
    .await
}

async fn create_topic(
    base: &ClientConfig,
    consumer: &Arc<BaseConsumer>,
    topic: &str,
    brokers: usize,
) -> Result<(), RegistryError> {
    let admin: AdminClient<DefaultClientContext> = base
        .create()
        .map_err(|e| unavailable("cannot create a Kafka admin client", e))?;
    let replication = i32::try_from(brokers.clamp(1, 3)).unwrap_or(1);
    let new_topic =
        NewTopic::new(topic, 1, TopicReplication::Fixed(replication)).set("cleanup.policy", "compact");
    let options = AdminOptions::new().request_timeout(Some(KAFKA_TIMEOUT));
    let results = admin
        .create_topics([&new_topic], &options)
        .await
        .map_err(|e| unavailable(format!("cannot create topic `{topic}`"), e))?;
    for result in results {
        match result {
            Ok(_) => tracing::info!(topic, replication, "created the schema registry topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(unavailable(
                    format!("cannot create topic `{topic}`"),
                    KafkaError::AdminOp(code),
                ))
            }
        }
    }
    // Wait until the topic shows in the metadata (another instance may have
    // created it with other settings meanwhile: check again).
    let deadline = Instant::now() + KAFKA_TIMEOUT;
    loop {
        match topic_partitions(consumer, topic).await?.0 {
            Some(1) => return Ok(()),
            Some(n) => {
                return Err(RegistryError::TopicMisconfigured {
                    topic: topic.to_string(),
                    reason: format!("it has {n} partitions; the registry needs a single partition"),
                })
            }
            None if Instant::now() > deadline => {
                return Err(RegistryError::Unavailable {
                    reason: format!("topic `{topic}` was created but does not show in the metadata"),
                    source: None,
                })
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Warns if an existing topic is not compacted (brokers that report only
/// explicit settings may not say; that is not an error).
async fn check_cleanup_policy(base: &ClientConfig, topic: &str) {
    let admin: AdminClient<DefaultClientContext> = match base.create() {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(topic, error = %crate::ErrorChain(&e), "cannot check the registry topic's cleanup.policy");
            return;
        }
    };
    let options = AdminOptions::new().request_timeout(Some(KAFKA_TIMEOUT));
    match admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
        .await
    {
        Ok(results) => {
            let policy = results
                .iter()
                .flatten()
                .find_map(|r| r.get("cleanup.policy").and_then(|e| e.value.clone()));
            if let Some(policy) = policy {
                if !policy.contains("compact") {
                    tracing::warn!(
                        topic,
                        policy,
                        "the schema registry topic is not compacted: old schemas may be deleted by retention"
                    );
                }
            }
        }
        Err(e) => {
            tracing::debug!(topic, error = %crate::ErrorChain(&e), "cannot check the registry topic's cleanup.policy")
        }
    }
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, RegistryError> + Send + 'static,
) -> Result<R, RegistryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| RegistryError::Unavailable {
            reason: format!("the registry's Kafka reader task failed: {e}"),
            source: Some(Box::new(e)),
        })?
}

/// Runs `f` on the tail on a blocking thread, and hands the guard back.
async fn run_blocking<R: Send + 'static>(
    mut guard: OwnedMutexGuard<Tail>,
    f: impl FnOnce(&mut Tail) -> Result<R, RegistryError> + Send + 'static,
) -> Result<(OwnedMutexGuard<Tail>, R), RegistryError> {
    blocking(move || f(&mut guard).map(|r| (guard, r))).await
}

struct KafkaBackend {
    /// Changes decided again because another instance won a race (for tests and logs).
    lost_races: std::sync::atomic::AtomicU64,
    topic: String,
    producer: FutureProducer,
    tail: Arc<Mutex<Tail>>,
}

impl KafkaBackend {
    /// The tail, locked and caught up to the end of the topic.
    async fn caught_up(&self) -> Result<OwnedMutexGuard<Tail>, RegistryError> {
        let guard = Arc::clone(&self.tail).lock_owned().await;
        Ok(run_blocking(guard, |t| t.catch_up(SETTLE)).await?.0)
    }

    /// Appends `records` in order; their offsets.
    async fn append(&self, records: &[LogRecord]) -> Result<Vec<i64>, RegistryError> {
        let mut offsets = Vec::with_capacity(records.len());
        for record in records {
            let (key, value) = record.encode();
            let mut out = FutureRecord::<Vec<u8>, Vec<u8>>::to(&self.topic)
                .partition(0)
                .key(&key);
            if let Some(value) = &value {
                out = out.payload(value);
            }
            let delivery = self
                .producer
                .send(out, Timeout::After(KAFKA_TIMEOUT))
                .await
                .map_err(|(e, _)| unavailable(format!("cannot append to topic `{}`", self.topic), e))?;
            offsets.push(delivery.offset);
        }
        Ok(offsets)
    }

    async fn write<T>(
        &self,
        decide: impl Fn(&RegistryState) -> Result<Plan<T>, RegistryError>,
    ) -> Result<T, RegistryError> {
        for attempt in 1..=MAX_ATTEMPTS {
            let guard = self.caught_up().await?;
            let plan = decide(&guard.state)?;
            if plan.records.is_empty() {
                return Ok(plan.outcome);
            }
            let offsets = self.append(&plan.records).await?;
            let watch = offsets.clone();
            let last_offset = offsets.iter().copied().max().unwrap_or(-1);
            let (guard, outcomes) = run_blocking(guard, move |t| t.read_through(last_offset, &watch)).await?;
            let mut rejected = Vec::new();
            for (record, offset) in plan.records.iter().zip(&offsets) {
                match outcomes.get(offset) {
                    Some(Applied::Accepted) => {}
                    Some(Applied::Ignored(why)) => rejected.push((record, why.clone())),
                    None => rejected.push((record, "not read back".to_string())),
                }
            }
            if rejected.is_empty() {
                for (record, offset) in plan.records.iter().zip(&offsets) {
                    tracing::debug!(topic = %self.topic, offset, record = %record.describe(), "schema registry change accepted");
                }
                return Ok(plan.outcome);
            }
            self.lost_races.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // Lost a race: make sure compaction cannot resurrect our record,
            // then decide again from the new state.
            let repairs: Vec<LogRecord> = rejected
                .iter()
                .filter_map(|(r, _)| guard.state.repair_for(r))
                .collect();
            for (record, why) in &rejected {
                tracing::debug!(topic = %self.topic, attempt, record = %record.describe(), why, "schema registry change lost a race; retrying");
            }
            self.append(&repairs).await?;
            drop(guard);
            tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 5)).await;
        }
        Err(RegistryError::Unavailable {
            reason: format!(
                "gave up after {MAX_ATTEMPTS} attempts: other registry instances kept changing topic `{}` concurrently",
                self.topic
            ),
            source: None,
        })
    }
}

/// The reading side: the consumer and the state it builds.
struct Tail {
    consumer: Arc<BaseConsumer>,
    /// Used for the high watermark: the consumer's connection is often
    /// busy with a long-polling fetch, which a ListOffsets request would
    /// queue behind (~`fetch.wait.max.ms`).
    producer: FutureProducer,
    topic: String,
    state: RegistryState,
    /// The next offset to apply.
    next_offset: i64,
    /// Records applied so far.
    records: u64,
}

impl Tail {
    /// Applies one consumed record (once); its offset and outcome.
    fn handle(&mut self, message: &BorrowedMessage<'_>) -> Option<(i64, Applied)> {
        let offset = message.offset();
        if message.partition() != 0 || offset < self.next_offset {
            return None;
        }
        self.next_offset = offset + 1;
        self.records += 1;
        let applied = match message.key() {
            None => Applied::Ignored("record without key".to_string()),
            Some(key) => {
                let value = message.payload().filter(|v| !v.is_empty());
                match LogRecord::decode(key, value) {
                    Ok(record) => {
                        let applied = self.state.apply(&record);
                        if let Applied::Ignored(why) = &applied {
                            tracing::debug!(topic = %self.topic, offset, record = %record.describe(), why, "schema registry record ignored");
                        }
                        applied
                    }
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, offset, error = %crate::ErrorChain(&e), "skipping a record of the schema registry topic");
                        Applied::Ignored(e.to_string())
                    }
                }
            }
        };
        Some((offset, applied))
    }

    fn poll(&mut self, timeout: Duration) -> Result<Option<(i64, Applied)>, RegistryError> {
        let consumer = Arc::clone(&self.consumer);
        match consumer.poll(timeout) {
            None => Ok(None),
            Some(Ok(message)) => Ok(self.handle(&message)),
            Some(Err(e)) => Err(unavailable(format!("cannot read topic `{}`", self.topic), e)),
        }
    }

    /// Reads until offset `last` has been applied; the outcomes of `watch`.
    fn read_through(&mut self, last: i64, watch: &[i64]) -> Result<HashMap<i64, Applied>, RegistryError> {
        let deadline = Instant::now() + KAFKA_TIMEOUT;
        let mut outcomes = HashMap::new();
        while self.next_offset <= last {
            if Instant::now() > deadline {
                return Err(RegistryError::Unavailable {
                    reason: format!(
                        "timed out reading topic `{}` up to offset {last} (at {})",
                        self.topic, self.next_offset
                    ),
                    source: None,
                });
            }
            if let Some((offset, applied)) = self.poll(Duration::from_millis(100))? {
                if watch.contains(&offset) {
                    outcomes.insert(offset, applied);
                }
            }
        }
        Ok(outcomes)
    }

    /// Reads up to the end of the topic: up to the high watermark, then until
    /// a poll of `settle` finds nothing more.
    fn catch_up(&mut self, settle: Duration) -> Result<(), RegistryError> {
        loop {
            let (_, high) = self
                .producer
                .client()
                .fetch_watermarks(&self.topic, 0, KAFKA_TIMEOUT)
                .map_err(|e| {
                    unavailable(format!("cannot read the end offset of topic `{}`", self.topic), e)
                })?;
            if self.next_offset < high {
                self.read_through(high - 1, &[])?;
            }
            if self.poll(settle)?.is_none() {
                return Ok(());
            }
        }
    }
}

impl SchemaRegistry for EmbeddedRegistry {
    fn register<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(self.write(move |s| s.decide_register(subject, schema)))
    }

    fn lookup<'a>(&'a self, subject: &'a str, schema: &'a str) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(self.read(move |s| s.lookup(subject, schema)))
    }

    fn schema_by_id(&self, id: u32) -> RegistryFuture<'_, String> {
        Box::pin(self.read(move |s| s.schema_by_id(id)))
    }

    fn subjects(&self) -> RegistryFuture<'_, Vec<String>> {
        Box::pin(self.read(|s| Ok(s.subjects())))
    }

    fn versions<'a>(&'a self, subject: &'a str) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(self.read(move |s| s.versions(subject)))
    }

    fn version<'a>(&'a self, subject: &'a str, version: VersionRef) -> RegistryFuture<'a, RegisteredSchema> {
        Box::pin(self.read(move |s| s.version(subject, version)))
    }

    fn check_compatibility<'a>(
        &'a self,
        subject: &'a str,
        schema: &'a str,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport> {
        Box::pin(self.read(move |s| s.check_compatibility(subject, schema, version)))
    }

    fn compatibility_level<'a>(&'a self, subject: Option<&'a str>) -> RegistryFuture<'a, CompatibilityLevel> {
        Box::pin(self.read(move |s| Ok(s.compatibility_level(subject))))
    }

    fn subject_compatibility_level<'a>(
        &'a self,
        subject: &'a str,
    ) -> RegistryFuture<'a, Option<CompatibilityLevel>> {
        Box::pin(self.read(move |s| Ok(s.subject_compatibility_level(subject))))
    }

    fn set_compatibility_level<'a>(
        &'a self,
        subject: Option<&'a str>,
        level: CompatibilityLevel,
    ) -> RegistryFuture<'a, CompatibilityLevel> {
        Box::pin(self.write(move |s| Ok(s.decide_set_level(subject, level))))
    }

    fn delete_subject<'a>(&'a self, subject: &'a str, permanent: bool) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(self.write(move |s| s.decide_delete_subject(subject, permanent)))
    }

    fn delete_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        permanent: bool,
    ) -> RegistryFuture<'a, u32> {
        Box::pin(self.write(move |s| s.decide_delete_version(subject, version, permanent)))
    }

    fn register_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(self.write(move |s| s.decide_register_definition(subject, definition)))
    }

    fn lookup_definition<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(self.read(move |s| s.lookup_definition(subject, definition, include_deleted)))
    }

    fn check_definition_compatibility<'a>(
        &'a self,
        subject: &'a str,
        definition: &'a SchemaDefinition,
        version: VersionRef,
    ) -> RegistryFuture<'a, CompatibilityReport> {
        Box::pin(self.read(move |s| s.check_definition_compatibility(subject, definition, version)))
    }

    fn schema_definition_by_id(&self, id: u32) -> RegistryFuture<'_, SchemaDefinition> {
        Box::pin(self.read(move |s| s.schema_definition_by_id(id)))
    }

    fn subject_versions_by_id(
        &self,
        id: u32,
        include_deleted: bool,
    ) -> RegistryFuture<'_, Vec<SubjectVersion>> {
        Box::pin(self.read(move |s| s.subject_versions_by_id(id, include_deleted)))
    }

    fn schemas<'a>(&'a self, filter: &'a SchemaFilter) -> RegistryFuture<'a, Vec<SchemaVersion>> {
        Box::pin(self.read(move |s| s.schemas(filter)))
    }

    fn referenced_by<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(self.read(move |s| s.referenced_by(subject, version, include_deleted)))
    }

    fn list_subjects(&self, include_deleted: bool) -> RegistryFuture<'_, Vec<String>> {
        Box::pin(self.read(move |s| Ok(s.list_subjects(include_deleted))))
    }

    fn list_versions<'a>(&'a self, subject: &'a str, include_deleted: bool) -> RegistryFuture<'a, Vec<u32>> {
        Box::pin(self.read(move |s| s.list_versions(subject, include_deleted)))
    }

    fn schema_version<'a>(
        &'a self,
        subject: &'a str,
        version: VersionRef,
        include_deleted: bool,
    ) -> RegistryFuture<'a, SchemaVersion> {
        Box::pin(self.read(move |s| s.schema_version(subject, version, include_deleted)))
    }

    /// The id of the cluster behind the topic; `None` in memory, or when the
    /// cluster does not answer within a few seconds.
    fn kafka_cluster_id(&self) -> RegistryFuture<'_, Option<String>> {
        Box::pin(async move {
            match &self.backend {
                Backend::Memory(_) => Ok(None),
                Backend::Kafka(k) => {
                    let producer = k.producer.clone();
                    blocking(move || Ok(producer.client().fetch_cluster_id(CLUSTER_ID_TIMEOUT))).await
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;

    use crate::schema::registry::{SchemaReference, SchemaType};
    use crate::test_support::test_brokers as brokers;

    fn unique_topic(test: &str) -> String {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        format!("_schemas-{test}-{}-{nanos}", std::process::id())
    }

    /// A record schema `R` with `n` int fields, all with defaults, so that
    /// every pair is compatible in both directions.
    fn schema(n: usize) -> String {
        let fields: Vec<String> = (0..=n)
            .map(|i| format!(r#"{{"name":"f{i}","type":"int","default":{i}}}"#))
            .collect();
        format!(
            r#"{{"type":"record","name":"R","fields":[{}]}}"#,
            fields.join(",")
        )
    }

    /// Everything a registry reports: each subject's versions with ids and
    /// schemas, every id's schema, and the levels.
    #[derive(Debug, PartialEq, Eq)]
    struct Snapshot {
        subjects: BTreeMap<String, Vec<RegisteredSchema>>,
        ids: BTreeMap<u32, String>,
        levels: BTreeMap<String, Option<CompatibilityLevel>>,
        global: CompatibilityLevel,
    }

    async fn snapshot(r: &EmbeddedRegistry, max_id: u32) -> Snapshot {
        let mut subjects = BTreeMap::new();
        let mut levels = BTreeMap::new();
        for s in r.subjects().await.unwrap() {
            let mut versions = Vec::new();
            for v in r.versions(&s).await.unwrap() {
                versions.push(r.version(&s, VersionRef::Number(v)).await.unwrap());
            }
            levels.insert(s.clone(), r.subject_compatibility_level(&s).await.unwrap());
            subjects.insert(s, versions);
        }
        let mut ids = BTreeMap::new();
        for id in 1..=max_id {
            if let Ok(text) = r.schema_by_id(id).await {
                ids.insert(id, text);
            }
        }
        Snapshot {
            subjects,
            ids,
            levels,
            global: r.compatibility_level(None).await.unwrap(),
        }
    }

    #[tokio::test]
    async fn in_memory_registry_implements_the_trait() {
        let r: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
        let a = r.register("s", &schema(0)).await.unwrap();
        let b = r.register("s", &schema(1)).await.unwrap();
        assert_eq!((a.id, a.version, b.id, b.version), (1, 1, 2, 2));
        assert_eq!(r.register("t", &schema(1)).await.unwrap().id, 2);
        assert_eq!(r.lookup("s", &schema(0)).await.unwrap(), a);
        assert_eq!(r.version("s", VersionRef::Latest).await.unwrap(), b);
        assert_eq!(
            r.delete_version("s", VersionRef::Number(1), false).await.unwrap(),
            1
        );
        assert_eq!(r.versions("s").await.unwrap(), vec![2]);
        assert_eq!(r.schema_by_id(1).await.unwrap(), schema(0));
        r.set_compatibility_level(Some("s"), CompatibilityLevel::Full)
            .await
            .unwrap();
        assert_eq!(
            r.subject_compatibility_level("s").await.unwrap(),
            Some(CompatibilityLevel::Full)
        );
        assert_eq!(r.subject_compatibility_level("t").await.unwrap(), None);
        assert!(r
            .check_compatibility("s", r#""int""#, VersionRef::Latest)
            .await
            .map(|c| !c.is_compatible)
            .unwrap());
        assert_eq!(r.delete_subject("s", false).await.unwrap(), vec![2]);
        assert_eq!(r.delete_subject("s", true).await.unwrap(), vec![1, 2]);
        assert_eq!(r.subjects().await.unwrap(), vec!["t"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_a_topic_with_several_partitions() {
        let Some(brokers) = brokers("refuses_a_topic_with_several_partitions") else {
            return;
        };
        let topic = unique_topic("partitions");
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .unwrap();
        let new_topic = NewTopic::new(&topic, 3, TopicReplication::Fixed(1));
        let created = admin
            .create_topics([&new_topic], &AdminOptions::new())
            .await
            .unwrap();
        assert!(created.iter().all(Result::is_ok), "{created:?}");
        let err = EmbeddedRegistry::connect(&brokers, &topic, [("client.id", "test")])
            .await
            .unwrap_err();
        assert!(matches!(err, RegistryError::TopicMisconfigured { .. }), "{err:?}");
        assert!(err.to_string().contains("3 partitions"), "{err}");
    }

    /// Registers Avro with a reference and JSON Schema, then soft-deletes the
    /// referrer and the version it refers to (rewriting both records); the
    /// ids and definitions registered.
    async fn register_typed(r: &EmbeddedRegistry) -> Vec<(u32, SchemaDefinition)> {
        r.register("customer", r#"{"type":"record","name":"C","fields":[]}"#)
            .await
            .unwrap();
        let order =
            SchemaDefinition::avro(r#"{"type":"record","name":"O","fields":[{"name":"c","type":"C"}]}"#)
                .with_references(vec![SchemaReference::new("C", "customer", 1)]);
        let json = SchemaDefinition::new(SchemaType::Json, r#"{"type":"object"}"#);
        let o = r.register_definition("order", &order).await.unwrap();
        let j = r.register_definition("json", &json).await.unwrap();
        r.delete_subject("order", false).await.unwrap();
        r.delete_version("customer", VersionRef::Number(1), false)
            .await
            .unwrap();
        vec![(o.id, order), (j.id, json)]
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn survives_a_restart() {
        let Some(brokers) = brokers("survives_a_restart") else {
            return;
        };
        let topic = unique_topic("restart");
        let no_extra: [(&str, &str); 0] = [];
        let (before, typed) = {
            let r = EmbeddedRegistry::connect(&brokers, &topic, no_extra)
                .await
                .unwrap();
            for i in 0..4 {
                r.register("orders-value", &schema(i)).await.unwrap();
            }
            r.register("payments-value", &schema(2)).await.unwrap();
            r.register("payments-value", r#"{"type":"record","name":"R","fields":[]}"#)
                .await
                .unwrap();
            r.register("names", r#""string""#).await.unwrap();
            r.delete_version("orders-value", VersionRef::Number(2), false)
                .await
                .unwrap();
            r.set_compatibility_level(None, CompatibilityLevel::Full)
                .await
                .unwrap();
            r.set_compatibility_level(Some("names"), CompatibilityLevel::None)
                .await
                .unwrap();
            r.register("names", r#""long""#).await.unwrap();
            r.register("gone", r#""bytes""#).await.unwrap();
            r.delete_subject("gone", false).await.unwrap();
            r.delete_subject("gone", true).await.unwrap();
            let typed = register_typed(&r).await;
            (snapshot(&r, 20).await, typed)
        };
        assert_eq!(
            before.subjects["orders-value"]
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(
            before.subjects["payments-value"][0].id, 3,
            "the same schema keeps its id"
        );
        assert!(!before.subjects.contains_key("gone"));
        let after = EmbeddedRegistry::connect(&brokers, &topic, no_extra)
            .await
            .unwrap();
        assert_eq!(
            snapshot(&after, 20).await,
            before,
            "replaying the topic gives the same registry"
        );
        // Types and references are read back from the topic too.
        for (id, definition) in &typed {
            assert_eq!(&after.schema_definition_by_id(*id).await.unwrap(), definition);
        }
        assert_eq!(
            after
                .referenced_by("customer", VersionRef::Number(1), true)
                .await
                .unwrap(),
            vec![typed[0].0]
        );
        assert!(
            after
                .schema_version("customer", VersionRef::Number(1), true)
                .await
                .unwrap()
                .deleted
        );
        // The replayed registry goes on where the first left off.
        let next = after.register("orders-value", &schema(9)).await.unwrap();
        assert_eq!(next.version, 5);
        assert!(before.ids.keys().all(|id| *id < next.id));
        assert!(matches!(
            after.register("orders-value", r#""int""#).await,
            Err(RegistryError::Incompatible { .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_instances_on_one_topic_agree() {
        let Some(brokers) = brokers("two_instances_on_one_topic_agree") else {
            return;
        };
        let topic = unique_topic("two");
        let no_extra: [(&str, &str); 0] = [];
        let a = Arc::new(
            EmbeddedRegistry::connect(&brokers, &topic, no_extra)
                .await
                .unwrap(),
        );
        let b = Arc::new(
            EmbeddedRegistry::connect(&brokers, &topic, no_extra)
                .await
                .unwrap(),
        );

        // Alternately: each sees the other's registrations at once.
        for i in 0..6 {
            let (writer, reader) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
            let r = writer.register("alternate", &schema(i)).await.unwrap();
            assert_eq!(r.version, i as u32 + 1);
            assert_eq!(reader.version("alternate", VersionRef::Latest).await.unwrap(), r);
            assert_eq!(
                reader.register("alternate", &schema(i)).await.unwrap(),
                r,
                "idempotent through the other"
            );
        }

        // Concurrently: 24 registrations through A and B at once, racing for
        // versions of 3 subjects and for ids (schema(i % 8) repeats across subjects).
        let mut tasks = Vec::new();
        for i in 0..24usize {
            let r = if i % 2 == 0 {
                Arc::clone(&a)
            } else {
                Arc::clone(&b)
            };
            tasks.push(tokio::spawn(async move {
                let subject = format!("race-{}", i % 3);
                let registered = r.register(&subject, &schema(10 + i % 8)).await;
                (i, registered)
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            let (i, registered) = t.await.unwrap();
            results.push((
                i,
                registered.unwrap_or_else(|e| panic!("registration {i} failed: {e}")),
            ));
        }
        // The same schema got the same id everywhere; different schemas different ids.
        let mut id_of: BTreeMap<usize, u32> = BTreeMap::new();
        for (i, r) in &results {
            let prev = *id_of.entry(i % 8).or_insert(r.id);
            assert_eq!(prev, r.id, "schema {} has two ids", i % 8);
        }
        let distinct: std::collections::BTreeSet<u32> = id_of.values().copied().collect();
        assert_eq!(distinct.len(), 8);
        // Every answer is what both instances report now.
        for (_, r) in &results {
            for reg in [&a, &b] {
                assert_eq!(
                    &reg.version(&r.subject, VersionRef::Number(r.version))
                        .await
                        .unwrap(),
                    r
                );
                assert_eq!(reg.lookup(&r.subject, &r.schema).await.unwrap(), *r);
            }
        }
        let sa = snapshot(&a, 40).await;
        let sb = snapshot(&b, 40).await;
        assert_eq!(sa, sb);
        for s in 0..3 {
            let versions: Vec<u32> = sa.subjects[&format!("race-{s}")]
                .iter()
                .map(|v| v.version)
                .collect();
            let expected: Vec<u32> = (1..=versions.len() as u32).collect();
            assert_eq!(versions, expected, "versions without gaps or duplicates");
        }
        let races = a.lost_races() + b.lost_races();
        eprintln!("two_instances_on_one_topic_agree: {races} registrations lost a race and were retried");
        // A third instance replaying the topic agrees too.
        let c = EmbeddedRegistry::connect(&brokers, &topic, no_extra)
            .await
            .unwrap();
        assert_eq!(snapshot(&c, 40).await, sa);
    }
}
