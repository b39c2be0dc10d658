//! Sending dead letters back to where they came from, once the cause is
//! fixed: a [`Replayer`].
//!
//! # Each dead letter is replayed at most once, whatever the filters
//!
//! A replay re-publishes each selected dead letter to its source topic (and
//! partition) with its original key, value and timestamp, its original
//! headers without the runtime's `meshkit.dlq.*` ones, and a
//! [`REPLAYED_HEADER`] naming the dead letter. Everything it writes commits
//! in Kafka transactions, with two records of what was replayed:
//!
//! - a **ledger**: the compacted topic `<dead-letter topic>.replayed`, one
//!   record per replayed dead letter, keyed `<partition>/<offset>`, written
//!   in the same transaction as the replayed record. A run skips every dead
//!   letter in the ledger. This is what makes filters safe: a dead letter
//!   a `--reason` filter left out stays replayable by a later run, and one
//!   replayed is never replayed again, by any filter.
//! - a **position**: the offsets of consumer group
//!   `meshkit-dlq-replay.<dead-letter topic>`, committed in the last
//!   transaction of a run: in each partition, the first dead letter not yet
//!   replayed (everything before it was). A run reads from there, so a topic
//!   replayed in full is not read again. A position alone could not serve
//!   filters: it cannot move past a dead letter that a filter left out.
//!
//! The producer's `transactional.id` is `meshkit-dlq-replay.<dead-letter
//! topic>`: a replay starting fences one still running on the same topic
//! (whose open transaction is aborted), and only then reads the ledger, so
//! two replays never both replay a dead letter. A run that fails part-way
//! keeps what its committed transactions replayed; running it again replays
//! the rest.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use super::read::{Client, LastRead};
use super::{DeadLetter, DlqError};
use crate::catalog::Timestamp;
use crate::config::Config;

/// The header a replayed record carries: `<dead-letter topic>/<partition>/<offset>`
/// of the dead letter it replays.
pub const REPLAYED_HEADER: &str = "meshkit.dlq.replayed";

/// The prefix of the runtime's dead-letter headers, which a replayed record
/// does not carry (it is not a dead letter any more).
const DLQ_HEADER_PREFIX: &str = "meshkit.dlq.";

/// Dead letters replayed per transaction.
const BATCH: usize = 500;

/// How many problems a report describes one by one (all are counted).
const MAX_PROBLEMS: usize = 16;

/// Which dead letters to replay: those matching every condition set.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::Timestamp;
/// use meshkit::dlq::{DeadLetter, ReplayFilter};
/// use meshkit::dlq_headers;
///
/// let letter = DeadLetter {
///     partition: 0,
///     offset: 0,
///     timestamp: Some(Timestamp::from_millis(2_000)),
///     key: None,
///     value: None,
///     headers: vec![(dlq_headers::REASON.to_string(), Some(b"negative-amount".to_vec()))],
/// };
/// assert!(ReplayFilter::all().matches(&letter));
/// assert!(ReplayFilter::all().reason("negative-amount").matches(&letter));
/// assert!(!ReplayFilter::all().reason("negative").matches(&letter));
/// assert!(ReplayFilter::all().since(Timestamp::from_millis(2_000)).matches(&letter));
/// assert!(!ReplayFilter::all().since(Timestamp::from_millis(2_001)).matches(&letter));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayFilter {
    /// Only dead letters with exactly this reason.
    pub reason: Option<String>,
    /// Only dead letters whose record timestamp is at or after this.
    pub since: Option<Timestamp>,
}

impl ReplayFilter {
    /// Every dead letter.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only dead letters with exactly `reason`.
    #[must_use]
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Only dead letters whose record timestamp is at or after `since` (one
    /// without a timestamp does not match).
    #[must_use]
    pub fn since(mut self, since: Timestamp) -> Self {
        self.since = Some(since);
        self
    }

    /// Whether `letter` is selected.
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        self.reason.as_deref().is_none_or(|r| letter.reason() == Some(r))
            && self
                .since
                .is_none_or(|since| letter.timestamp.is_some_and(|t| t >= since))
    }
}

/// What a replay did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// The dead-letter topic.
    pub topic: String,
    /// Whether nothing was written (a dry run).
    pub dry_run: bool,
    /// Dead letters read: those from the committed position on.
    pub read: u64,
    /// Those the filter selected and no earlier run replayed.
    pub selected: u64,
    /// Those re-published to their source topic (0 on a dry run).
    pub replayed: u64,
    /// Those the filter selected that an earlier run replayed: skipped.
    pub already_replayed: u64,
    /// Those the filter left out (still replayable later).
    pub filtered_out: u64,
    /// Those the filter selected that cannot be replayed (no source topic
    /// header, or a source topic that no longer exists).
    pub unreplayable: u64,
    /// Why, for the first few of them.
    pub problems: Vec<String>,
}

/// Replays the dead letters of one dead-letter topic, with the Kafka
/// settings of a [`Config`]; see the [module docs](self).
///
/// # Examples
///
/// ```no_run
/// use meshkit::dlq::{ReplayFilter, Replayer};
/// use meshkit::Config;
///
/// let config = Config::builder().brokers("127.0.0.1:9092").build()?;
/// let replayer = Replayer::new(&config, "sales.orders-enriched.dlq")?;
/// let report = replayer.replay(&ReplayFilter::all().reason("negative-amount"))?;
/// println!("replayed {} ({} were already)", report.replayed, report.already_replayed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Replayer {
    client: Client,
    topic: String,
}

impl Replayer {
    /// A replayer of dead-letter topic `topic` on `config`'s brokers, with
    /// a [`DEFAULT_TIMEOUT`](super::DEFAULT_TIMEOUT) per step (reading, and
    /// each transaction).
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

    /// The longest a read, or one transaction, may take.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.client.timeout = timeout;
        self
    }

    /// The dead-letter topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The compacted topic recording every replayed dead letter.
    pub fn ledger_topic(&self) -> String {
        format!("{}.replayed", self.topic)
    }

    /// The consumer group holding the replay position, and the producer's
    /// transactional id.
    pub fn group(&self) -> String {
        format!("meshkit-dlq-replay.{}", self.topic)
    }

    /// What [`replay`](Self::replay) would do now, writing nothing.
    ///
    /// This blocks the calling thread; from async code, call it in
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// As [`replay`](Self::replay), but never [`DlqError::Fenced`].
    pub fn dry_run(&self, filter: &ReplayFilter) -> Result<ReplayReport, DlqError> {
        self.run(filter, None)
    }

    /// Replays the dead letters `filter` selects that no run replayed
    /// before, and commits what it replayed.
    ///
    /// This blocks the calling thread; from async code, call it in
    /// `tokio::task::spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`DlqError::UnknownTopic`] when the dead-letter topic does not
    /// exist; [`DlqError::Fenced`] when another replay of the topic took
    /// over; otherwise the brokers could not be reached, refused a read, a
    /// write or a transaction, or a step ran out of time. What committed
    /// before the error stays replayed; running again replays the rest.
    pub fn replay(&self, filter: &ReplayFilter) -> Result<ReplayReport, DlqError> {
        let producer: ThreadedProducer<DefaultProducerContext> = self
            .client
            .config()
            .set("transactional.id", self.group())
            .set("enable.idempotence", "true")
            .set(
                "transaction.timeout.ms",
                self.client.timeout.as_millis().max(1000).to_string(),
            )
            .create()
            .map_err(|source| self.client.client_error(source))?;
        // First: this fences any earlier replay of the topic and completes
        // its transaction, so what the ledger says below is final.
        producer
            .init_transactions(self.client.timeout)
            .map_err(|e| self.producer_error("starting transactions", e))?;
        self.run(filter, Some(&producer))
    }

    fn run(
        &self,
        filter: &ReplayFilter,
        producer: Option<&ThreadedProducer<DefaultProducerContext>>,
    ) -> Result<ReplayReport, DlqError> {
        let deadline = Instant::now() + self.client.timeout;
        let group = self.group();
        let consumer = self.client.consumer(Some(&group))?;
        let Some(partitions) = self.client.partitions(&consumer, &self.topic, deadline)? else {
            return Err(DlqError::UnknownTopic {
                topic: self.topic.clone(),
            });
        };
        let position = self.position(&consumer, &partitions)?;
        let ledger = self.ledger(producer.is_some(), deadline)?;

        let mut report = ReplayReport {
            topic: self.topic.clone(),
            dry_run: producer.is_none(),
            ..ReplayReport::default()
        };
        let mut selected = Vec::new();
        // Per partition, the first dead letter left for a later run.
        let mut open: BTreeMap<i32, i64> = BTreeMap::new();
        let mut sources: HashMap<String, Option<usize>> = HashMap::new();
        let reader = self.client.consumer(None)?;
        let last = self
            .client
            .read_topic(&reader, &self.topic, &position, deadline, |letter| {
                report.read += 1;
                let done = ledger.contains(&(letter.partition, letter.offset));
                let matches = filter.matches(&letter);
                match (done, matches) {
                    (true, true) => report.already_replayed += 1,
                    (true, false) => {}
                    (false, false) => report.filtered_out += 1,
                    (false, true) => match self.source_problem(&consumer, &letter, &mut sources, deadline) {
                        None => {
                            report.selected += 1;
                            selected.push(letter);
                            return;
                        }
                        Some(problem) => {
                            report.unreplayable += 1;
                            if report.problems.len() < MAX_PROBLEMS {
                                report.problems.push(problem);
                            }
                        }
                    },
                }
                if !done {
                    open.entry(letter.partition).or_insert(letter.offset);
                }
            })?
            .unwrap_or_default();

        let Some(producer) = producer else {
            return Ok(report);
        };
        let moved = advanced_position(&position, &last, &open);
        let mut advanced = TopicPartitionList::new();
        for (p, offset) in &moved {
            advanced
                .add_partition_offset(&self.topic, *p, Offset::Offset(*offset))
                .map_err(|e| DlqError::kafka(&self.topic, "committing the replay position", e))?;
        }
        let mut batches = selected.chunks(BATCH).peekable();
        if batches.peek().is_none() && !moved.is_empty() {
            self.transaction(producer, &[], &sources, Some((&advanced, &consumer)))?;
        }
        while let Some(batch) = batches.next() {
            let offsets = batches.peek().is_none().then_some((&advanced, &consumer));
            self.transaction(producer, batch, &sources, offsets)?;
            report.replayed += batch.len() as u64;
        }
        Ok(report)
    }

    /// The committed replay position of each partition (none: from the
    /// beginning).
    fn position(&self, consumer: &BaseConsumer, partitions: &[i32]) -> Result<BTreeMap<i32, i64>, DlqError> {
        let mut asked = TopicPartitionList::new();
        for p in partitions {
            asked.add_partition(&self.topic, *p);
        }
        let committed = consumer
            .committed_offsets(asked, self.client.timeout)
            .map_err(|e| DlqError::kafka(&self.topic, "reading the replay position", e))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    }

    /// The dead letters replayed so far, as `(partition, offset)`. On a real
    /// run the ledger topic is created when missing.
    fn ledger(&self, create: bool, deadline: Instant) -> Result<HashSet<(i32, i64)>, DlqError> {
        let topic = self.ledger_topic();
        if create && self.create_ledger(&topic)? {
            // Just created: nothing can be in it.
            return Ok(HashSet::new());
        }
        let consumer = self.client.consumer(None)?;
        let mut ledger = HashSet::new();
        self.client
            .read_topic(&consumer, &topic, &BTreeMap::new(), deadline, |entry| {
                let Some(at) = entry.key.as_deref().and_then(ledger_key) else {
                    tracing::warn!(
                        topic,
                        offset = entry.offset,
                        "skipping a ledger record with a malformed key"
                    );
                    return;
                };
                if entry.value.is_some() {
                    ledger.insert(at);
                } else {
                    ledger.remove(&at);
                }
            })?;
        Ok(ledger)
    }

    /// Creates the compacted ledger topic; `true` if this call created it.
    fn create_ledger(&self, topic: &str) -> Result<bool, DlqError> {
        let admin: AdminClient<DefaultClientContext> = self
            .client
            .config()
            .create()
            .map_err(|source| self.client.client_error(source))?;
        let new = NewTopic::new(topic, 1, TopicReplication::Fixed(-1)).set("cleanup.policy", "compact");
        let options = AdminOptions::new().operation_timeout(Some(self.client.timeout));
        let results = block_on(admin.create_topics([&new], &options))
            .map_err(|e| DlqError::kafka(topic, "creating the replay ledger", e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(true),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ok(false),
            Some(Err((_, code))) => Err(DlqError::kafka(
                topic,
                "creating the replay ledger",
                KafkaError::AdminOp(code),
            )),
        }
    }

    /// Why `letter` cannot be replayed, if it cannot; `sources` caches each
    /// source topic's partition count (`None`: it does not exist).
    fn source_problem(
        &self,
        consumer: &BaseConsumer,
        letter: &DeadLetter,
        sources: &mut HashMap<String, Option<usize>>,
        deadline: Instant,
    ) -> Option<String> {
        let at = format!("{}/{}/{}", self.topic, letter.partition, letter.offset);
        let Some(topic) = letter.source_topic() else {
            return Some(format!("{at}: no {} header", crate::dlq_headers::SOURCE_TOPIC));
        };
        if !sources.contains_key(topic) {
            let count = match self.client.partitions(consumer, topic, deadline) {
                Ok(found) => found.map(|p| p.len()),
                Err(e) => return Some(format!("{at}: source topic `{topic}`: {}", crate::ErrorChain(&e))),
            };
            sources.insert(topic.to_string(), count);
        }
        match sources.get(topic) {
            Some(Some(_)) => None,
            _ => Some(format!("{at}: source topic `{topic}` does not exist")),
        }
    }

    /// One transaction: `batch` replayed, each with its ledger record, and
    /// the position when given.
    fn transaction(
        &self,
        producer: &ThreadedProducer<DefaultProducerContext>,
        batch: &[DeadLetter],
        sources: &HashMap<String, Option<usize>>,
        offsets: Option<(&TopicPartitionList, &BaseConsumer)>,
    ) -> Result<(), DlqError> {
        producer
            .begin_transaction()
            .map_err(|e| self.producer_error("beginning a transaction", e))?;
        let result = self.fill(producer, batch, sources, offsets);
        let result = result.and_then(|()| {
            producer
                .commit_transaction(self.client.timeout)
                .map_err(|e| self.producer_error("committing a transaction", e))
        });
        if let Err(err) = result {
            if !matches!(err, DlqError::Fenced { .. }) {
                // Best effort: a failed abort leaves the transaction to
                // time out, and the next run's start aborts it anyway.
                let _ = producer.abort_transaction(self.client.timeout);
            }
            return Err(err);
        }
        Ok(())
    }

    fn fill(
        &self,
        producer: &ThreadedProducer<DefaultProducerContext>,
        batch: &[DeadLetter],
        sources: &HashMap<String, Option<usize>>,
        offsets: Option<(&TopicPartitionList, &BaseConsumer)>,
    ) -> Result<(), DlqError> {
        let ledger = self.ledger_topic();
        for letter in batch {
            // Selected letters have a source topic that exists.
            let topic = letter.source_topic().unwrap_or_default();
            let replayed = format!("{}/{}/{}", self.topic, letter.partition, letter.offset);
            let mut headers = OwnedHeaders::new_with_capacity(letter.headers.len() + 1);
            for (key, value) in &letter.headers {
                if !key.starts_with(DLQ_HEADER_PREFIX) {
                    headers = headers.insert(Header {
                        key,
                        value: value.as_deref(),
                    });
                }
            }
            headers = headers.insert(Header {
                key: REPLAYED_HEADER,
                value: Some(replayed.as_bytes()),
            });
            let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).headers(headers);
            // Back to its partition when the topic still has it (keeping
            // its place among its key's records), else where the
            // partitioner puts it.
            let partitions = sources.get(topic).copied().flatten().unwrap_or(0);
            if let Some(p) = letter.source_partition() {
                if usize::try_from(p).is_ok_and(|p| p < partitions) {
                    record = record.partition(p);
                }
            }
            if let Some(key) = &letter.key {
                record = record.key(key);
            }
            if let Some(value) = &letter.value {
                record = record.payload(value);
            }
            if let Some(t) = letter.timestamp.and_then(|t| i64::try_from(t.as_millis()).ok()) {
                record = record.timestamp(t);
            }
            self.send(producer, record, topic)?;
            let key = format!("{}/{}", letter.partition, letter.offset);
            let value = format!(
                "{topic}/{}",
                letter.source_offset().map_or_else(String::new, |o| o.to_string())
            );
            self.send(
                producer,
                BaseRecord::to(&ledger)
                    .key(key.as_bytes())
                    .payload(value.as_bytes()),
                &ledger,
            )?;
        }
        if let Some((offsets, consumer)) = offsets {
            let metadata = consumer.group_metadata().ok_or_else(|| {
                DlqError::kafka(
                    &self.topic,
                    "committing the replay position",
                    KafkaError::ClientCreation("the consumer has no group metadata".to_string()),
                )
            })?;
            producer
                .send_offsets_to_transaction(offsets, &metadata, self.client.timeout)
                .map_err(|e| self.producer_error("committing the replay position", e))?;
        }
        Ok(())
    }

    /// Queues `record`, waiting while the producer's queue is full.
    fn send<'a>(
        &self,
        producer: &ThreadedProducer<DefaultProducerContext>,
        mut record: BaseRecord<'a, [u8], [u8]>,
        topic: &str,
    ) -> Result<(), DlqError> {
        let deadline = Instant::now() + self.client.timeout;
        loop {
            match producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => return Err(DlqError::kafka(topic, "replaying a dead letter", e)),
            }
        }
    }

    fn producer_error(&self, operation: &'static str, err: KafkaError) -> DlqError {
        let fenced = matches!(
            err.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::InvalidProducerIdMapping
            )
        );
        if fenced {
            DlqError::Fenced {
                topic: self.topic.clone(),
                source: Box::new(err),
            }
        } else {
            DlqError::kafka(&self.topic, operation, err)
        }
    }
}

/// The partitions whose position moves, and where to: to the first dead
/// letter left `open`, else past the last one read; never backwards.
fn advanced_position(
    position: &BTreeMap<i32, i64>,
    last: &LastRead,
    open: &BTreeMap<i32, i64>,
) -> BTreeMap<i32, i64> {
    last.iter()
        .filter_map(|(p, last)| {
            let next = open.get(p).copied().or(last.map(|o| o + 1))?;
            (position.get(p).is_none_or(|now| next > *now)).then_some((*p, next))
        })
        .collect()
}

/// `partition/offset`.
fn ledger_key(key: &[u8]) -> Option<(i32, i64)> {
    let (p, o) = std::str::from_utf8(key).ok()?.split_once('/')?;
    Some((p.parse().ok()?, o.parse().ok()?))
}

/// Runs `future` on this thread: the admin client's futures are completed
/// by its own background thread, so no async runtime is needed (and this
/// works from inside `spawn_blocking` or a plain thread alike).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker: std::task::Waker = Arc::new(Unpark(std::thread::current())).into();
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_position_moves_to_the_first_open_letter_else_past_the_last_read() {
        let position = BTreeMap::from([(0, 5), (1, 3), (2, 9)]);
        let last: LastRead = BTreeMap::from([(0, Some(20)), (1, Some(8)), (2, None), (3, Some(0))]);
        let open = BTreeMap::from([(1, 6)]);
        let moved = advanced_position(&position, &last, &open);
        // 0: all decided, past 20; 1: stops at the open 6; 2: nothing read,
        // stays; 3: never committed, past 0.
        assert_eq!(moved, BTreeMap::from([(0, 21), (1, 6), (3, 1)]));
        // Never backwards, and no commit when nothing moves.
        let stuck = BTreeMap::from([(0, 5)]);
        let last: LastRead = BTreeMap::from([(0, Some(9))]);
        assert!(advanced_position(&BTreeMap::from([(0, 5)]), &last, &stuck).is_empty());
    }

    #[test]
    fn ledger_keys_are_partition_slash_offset() {
        assert_eq!(ledger_key(b"3/1234"), Some((3, 1234)));
        assert_eq!(ledger_key(b"3-1234"), None);
        assert_eq!(ledger_key(b"x/1"), None);
        assert_eq!(ledger_key(&[0xff]), None);
    }

    #[test]
    fn a_filter_needs_every_condition() {
        let letter = |reason: &[u8], ts: Option<u64>| DeadLetter {
            partition: 0,
            offset: 0,
            timestamp: ts.map(Timestamp::from_millis),
            key: None,
            value: None,
            headers: vec![(crate::dlq_headers::REASON.into(), Some(reason.to_vec()))],
        };
        let both = ReplayFilter::all().reason("a").since(Timestamp::from_millis(10));
        assert!(both.matches(&letter(b"a", Some(10))));
        assert!(!both.matches(&letter(b"b", Some(10))));
        assert!(!both.matches(&letter(b"a", Some(9))));
        assert!(
            !both.matches(&letter(b"a", None)),
            "no timestamp: not since anything"
        );
        assert!(ReplayFilter::all().reason("a").matches(&letter(b"a", None)));
    }
}
