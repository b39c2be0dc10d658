//! The clients, the loop and its commits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{DeliveryResult, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::{Args, Guarantee};

/// How long a transactional call, a flush or a synchronous commit may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the loop waits in `poll`, so that SIGTERM is seen quickly.
const POLL_MAX: Duration = Duration::from_millis(50);
/// Sends between two `poll(0)`s that serve delivery reports: often enough
/// to keep the producer's queue short, rare enough to cost nothing.
const POLL_EVERY: u32 = 512;
/// Partitions of the changelogs (the inputs have 4).
const CHANGELOG_PARTITIONS: i32 = 4;

/// One workload's processing, called by the loop.
pub(crate) trait Workload {
    /// Processes one input record of `partition`, producing through `out`.
    fn process(
        &mut self,
        partition: i32,
        key: &[u8],
        value: &[u8],
        timestamp: i64,
        out: &mut Out<'_>,
    ) -> anyhow::Result<()>;

    /// The batch is committed in Kafka: its state writes go to RocksDB.
    fn persist(&mut self) -> anyhow::Result<()>;
}

/// Counts failed deliveries, so that a commit never passes over a loss.
#[derive(Default)]
pub(crate) struct Deliveries {
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((err, message)) = result {
            if self.failed.fetch_add(1, Ordering::AcqRel) == 0 {
                let text = format!("to {}[{}]: {err}", message.topic(), message.partition());
                *self.first_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(text);
            }
        }
    }
}

/// Where a workload's records go: the output topic and, for a store, its
/// changelog.
pub(crate) struct Out<'a> {
    producer: &'a BaseProducer<Deliveries>,
    output: &'a str,
    changelog: Option<&'a str>,
    sent: u32,
}

impl Out<'_> {
    /// Sends `key` → `value` to the output topic (partitioned by key).
    pub(crate) fn output(&mut self, key: &[u8], value: &[u8], timestamp: i64) -> anyhow::Result<()> {
        let record = BaseRecord::to(self.output)
            .key(key)
            .payload(value)
            .timestamp(timestamp);
        self.send(record)
    }

    /// Sends a store write (`None`: a delete) to partition `partition` of
    /// the changelog.
    pub(crate) fn changelog(
        &mut self,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> anyhow::Result<()> {
        let topic = self.changelog.context("this workload has no changelog")?;
        let mut record = BaseRecord::to(topic)
            .partition(partition)
            .key(key)
            .timestamp(timestamp);
        if let Some(value) = value {
            record = record.payload(value);
        }
        self.send(record)
    }

    fn send(&mut self, mut record: BaseRecord<'_, [u8], [u8]>) -> anyhow::Result<()> {
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((err, _)) => return Err(err).context("producing"),
            }
        }
        self.sent = self.sent.wrapping_add(1);
        if self.sent.is_multiple_of(POLL_EVERY) {
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }
}

/// The input offsets of the open batch, by partition, and when it began.
#[derive(Default)]
struct Batch {
    /// The next offset to commit by partition (-1: none in this batch).
    next: Vec<i64>,
    started: Option<Instant>,
}

impl Batch {
    fn done(&mut self, partition: i32, offset: i64) {
        let index = usize::try_from(partition).unwrap_or_default();
        if self.next.len() <= index {
            self.next.resize(index + 1, -1);
        }
        self.next[index] = offset + 1;
    }

    fn offsets(&self, topic: &str) -> anyhow::Result<TopicPartitionList> {
        let mut list = TopicPartitionList::with_capacity(self.next.len());
        for (partition, &next) in self.next.iter().enumerate().filter(|(_, n)| **n >= 0) {
            list.add_partition_offset(topic, i32::try_from(partition)?, Offset::Offset(next))?;
        }
        Ok(list)
    }
}

/// Creates the changelog of `store` (compacted, 4 partitions) if it does
/// not exist; returns its name.
pub(crate) fn ensure_changelog(
    args: &Args,
    store: &str,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<String> {
    let name = format!("{}-{store}-changelog", args.application_id);
    // Warnings only: its drop logs a purged background event at notice
    // level, on the harness's stderr.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set_log_level(RDKafkaLogLevel::Warning)
        .create()?;
    // -1: the brokers' default replication factor.
    let topic = NewTopic::new(&name, CHANGELOG_PARTITIONS, TopicReplication::Fixed(-1))
        .set("cleanup.policy", "compact");
    let results = runtime.block_on(admin.create_topics([&topic], &AdminOptions::new()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating changelog {topic}: {code}"),
        }
    }
    Ok(name)
}

fn consumer(args: &Args) -> anyhow::Result<BaseConsumer> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", &args.application_id)
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .context("creating the consumer")?;
    consumer.subscribe(&[&args.input])?;
    Ok(consumer)
}

fn producer(args: &Args) -> anyhow::Result<BaseProducer<Deliveries>> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.brokers)
        .set("enable.idempotence", "true")
        // As meshkit's transactional producer.
        .set("linger.ms", "5");
    if args.guarantee == Guarantee::ExactlyOnce {
        config
            .set("transactional.id", format!("{}-hand-0", args.application_id))
            .set("transaction.timeout.ms", "10000");
    }
    let producer: BaseProducer<Deliveries> = config
        .create_with_context(Deliveries::default())
        .context("creating the producer")?;
    if args.guarantee == Guarantee::ExactlyOnce {
        producer
            .init_transactions(TIMEOUT)
            .context("initialising transactions")?;
    }
    Ok(producer)
}

/// Consumes, processes and commits until `stop`, then commits the open
/// batch.
pub(crate) fn run(
    args: &Args,
    workload: &mut dyn Workload,
    changelog: Option<&str>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let consumer = consumer(args)?;
    let producer = producer(args)?;
    let mut out = Out {
        producer: &producer,
        output: &args.output,
        changelog,
        sent: 0,
    };
    let mut batch = Batch::default();
    let eos = args.guarantee == Guarantee::ExactlyOnce;
    while !stop.load(Ordering::Acquire) {
        // One clock read per record: the commit check and the poll's wait.
        let now = Instant::now();
        let deadline = batch.started.map(|started| started + args.commit_interval);
        if deadline.is_some_and(|deadline| now >= deadline) {
            commit(args, &consumer, &producer, workload, &mut batch)?;
            continue;
        }
        let wait = deadline.map_or(POLL_MAX, |deadline| (deadline - now).min(POLL_MAX));
        match consumer.poll(wait) {
            Some(Ok(message)) => {
                if batch.started.is_none() {
                    if eos {
                        producer.begin_transaction().context("beginning a transaction")?;
                    }
                    batch.started = Some(Instant::now());
                }
                let timestamp = message.timestamp().to_millis().unwrap_or_default();
                let (key, value) = (
                    message.key().unwrap_or_default(),
                    message.payload().unwrap_or_default(),
                );
                workload
                    .process(message.partition(), key, value, timestamp, &mut out)
                    .with_context(|| {
                        format!(
                            "processing partition {} offset {}",
                            message.partition(),
                            message.offset()
                        )
                    })?;
                batch.done(message.partition(), message.offset());
            }
            Some(Err(err)) => match consumer.client().fatal_error() {
                Some((code, reason)) => bail!("the consumer failed: {code}: {reason}"),
                None => eprintln!("peer-hand: consumer error (retrying): {err}"),
            },
            None => {}
        }
    }
    commit(args, &consumer, &producer, workload, &mut batch)?;
    consumer.unsubscribe();
    Ok(())
}

/// Commits the open batch (nothing if none is open): at `exactly_once` its
/// offsets and the transaction; at `at_least_once` a flush, then the
/// offsets. The stores persist once Kafka has the batch.
fn commit(
    args: &Args,
    consumer: &BaseConsumer,
    producer: &BaseProducer<Deliveries>,
    workload: &mut dyn Workload,
    batch: &mut Batch,
) -> anyhow::Result<()> {
    if batch.started.is_none() {
        return Ok(());
    }
    let offsets = batch.offsets(&args.input)?;
    match args.guarantee {
        Guarantee::ExactlyOnce => {
            let group = consumer
                .group_metadata()
                .context("the consumer's group metadata")?;
            retrying(|| producer.send_offsets_to_transaction(&offsets, &group, TIMEOUT))
                .context("sending the offsets to the transaction")?;
            retrying(|| producer.commit_transaction(TIMEOUT)).context("committing the transaction")?;
            check_deliveries(producer)?;
        }
        Guarantee::AtLeastOnce => {
            producer.flush(TIMEOUT).context("flushing the producer")?;
            check_deliveries(producer)?;
        }
    }
    workload.persist()?;
    if args.guarantee == Guarantee::AtLeastOnce {
        consumer
            .commit(&offsets, CommitMode::Sync)
            .context("committing the offsets")?;
    }
    batch.next.fill(-1);
    batch.started = None;
    Ok(())
}

/// Fails if any record was not delivered.
fn check_deliveries(producer: &BaseProducer<Deliveries>) -> anyhow::Result<()> {
    let context = producer.context();
    let failed = context.failed.load(Ordering::Acquire);
    if failed > 0 {
        let first = context
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        bail!(
            "{failed} records were not delivered; the first {}",
            first.unwrap_or_default()
        );
    }
    Ok(())
}

/// Calls a transactional step again while librdkafka says the failure is
/// retriable (the step is then resumable), a few times.
fn retrying(mut step: impl FnMut() -> Result<(), KafkaError>) -> Result<(), KafkaError> {
    let mut attempts = 0;
    loop {
        match step() {
            Err(KafkaError::Transaction(err)) if err.is_retriable() && attempts < 5 => {
                attempts += 1;
                eprintln!("peer-hand: {err}; retrying");
            }
            other => return other,
        }
    }
}
