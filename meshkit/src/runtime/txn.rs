//! One instance's Kafka transaction: outputs, dead letters and input offsets
//! commit together or not at all. Under [`Guarantee::AtLeastOnce`] the same
//! batch of records ends without a transaction (`at_least_once`): the
//! guarantee picks, once at start, how each batch begins and ends, and the
//! bookkeeping around it (offsets, stores, counts, spans) is shared.
//!
//! The state lives behind a mutex because two places drive it: the processing
//! loop, and the consumer's rebalance callback, which must finish the open
//! transaction before partitions are given up. Both run on the loop's task
//! (the callback runs inside the consumer's `recv`), so the lock is never
//! contended; it only makes the sharing sound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{Producer, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;
use rdkafka::{Offset, TopicPartitionList};
use tracing::field::Empty;

use super::Error;
use super::Shared;
use crate::metrics::{Metrics, PortMetrics};
use crate::policy::Guarantee;
#[cfg(feature = "state")]
use crate::stores::StateManager;

mod at_least_once;

/// A topic and partition.
pub(crate) type Tp = (String, i32);

/// What the producer's delivery reports tell the transaction.
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    /// Delivered changelog offsets: the highest per topic and partition.
    /// By topic, then partition, so that a delivery report finds its entry
    /// from the borrowed topic name (a `Tp` key would need an owned copy of
    /// it for every changelog record delivered).
    ends: Mutex<HashMap<String, HashMap<i32, i64>>>,
    /// Outputs the brokers refused for what they are (too large, invalid):
    /// the fault of the record that emitted them, not of the transaction.
    refused: std::sync::atomic::AtomicU64,
    /// The latest such refusal, for the dead letter.
    last_refusal: Mutex<Option<String>>,
    /// Outputs not delivered, whatever the reason (refusals included):
    /// with no transaction to fail, an at-least-once commit reads this.
    failed: std::sync::atomic::AtomicU64,
}

/// Shared by the producer's delivery reports and the transaction.
pub(crate) type Delivered = Arc<Deliveries>;

/// Whether `code`, refusing one output, is that output's own fault (so
/// sending it again cannot help), rather than the transaction's or the
/// connection's.
pub(crate) fn refuses_the_record(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::MessageBatchTooLarge
            | RDKafkaErrorCode::InvalidMessage
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidArgument
            | RDKafkaErrorCode::UnknownPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::UnknownTopicOrPartition
    )
}

/// Logs deliveries that failed (a failed delivery fails the commit too),
/// notes how far each changelog was written, for the stores' checkpoints,
/// and reports connection errors to the health.
#[derive(Debug)]
pub(crate) struct DeliveryContext {
    pub(crate) changelogs: std::collections::HashSet<String>,
    pub(crate) delivered: Delivered,
    pub(crate) shared: Arc<Shared>,
}

impl ClientContext for DeliveryContext {
    /// The producer's own thread serves these at once, even while the
    /// processing loop waits in a commit that the outage holds up.
    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.broker_error(&error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {
        if let Ok(message) = result {
            use rdkafka::message::Message;
            if self.changelogs.contains(message.topic()) {
                let mut delivered = lock(&self.delivered.ends);
                if !delivered.contains_key(message.topic()) {
                    delivered.insert(message.topic().to_string(), HashMap::new());
                }
                if let Some(partitions) = delivered.get_mut(message.topic()) {
                    let entry = partitions.entry(message.partition()).or_insert(-1);
                    *entry = (*entry).max(message.offset());
                }
            }
        }
        if let Err((err, _)) = result {
            // Records purged by an abort are expected; anything else fails the commit.
            if err.rdkafka_error_code() == Some(RDKafkaErrorCode::PurgeQueue) {
                return;
            }
            if err.rdkafka_error_code().is_some_and(refuses_the_record) {
                *lock(&self.delivered.last_refusal) = Some(err.to_string());
                self.delivered.refused.fetch_add(1, Ordering::AcqRel);
            }
            self.delivered.failed.fetch_add(1, Ordering::AcqRel);
            tracing::warn!(error = %crate::ErrorChain(&err), "an output record was not delivered; its records will be processed again");
        }
    }
}

pub(crate) type TxnProducer = ThreadedProducer<DeliveryContext>;

/// How long an abort waits for the transaction's outputs in flight at most.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);

/// Makes the instance's transactional producer: once at start, and again
/// when the brokers aborted its transaction after an outage (which leaves
/// the old one fenced for good).
pub(crate) type ProducerFactory = Box<dyn Fn() -> Result<TxnProducer, KafkaError> + Send + Sync>;

#[derive(Debug, Default)]
struct State {
    open: bool,
    /// Next offset to commit, per input partition.
    next: HashMap<Tp, i64>,
    /// First offset processed in the open transaction, per input partition:
    /// where to rewind to if it aborts.
    first: HashMap<Tp, i64>,
    records: usize,
    started: Option<Instant>,
    /// Counts that reach the metrics only if the transaction commits: input
    /// and output records by port index, dead letters by reason.
    consumed: Vec<u64>,
    produced: Vec<u64>,
    dead_letters: HashMap<String, u64>,
    /// The open transaction's span, parent of its sampled record spans.
    span: Option<tracing::Span>,
    /// The count of broker connection errors when it began: more at its
    /// end means it lived through an outage.
    broker_errors_at_begin: u64,
    /// The count of outputs refused for what they are when it began.
    refused_at_begin: u64,
    /// The count of outputs not delivered when it began.
    failed_at_begin: u64,
    /// After a transaction aborted on a refused output: where its inputs
    /// ended, per partition. Until they are passed, transactions hold at
    /// most `isolate_limit` records, halved at each refusal, so that a
    /// refusal in a transaction of one record names the record at fault.
    isolate: HashMap<Tp, i64>,
    isolate_limit: usize,
    /// The record an isolated transaction held, when an output of it was
    /// refused: for the loop to dead-letter.
    culprit: Option<(Tp, i64)>,
    /// The last committed transaction: where its inputs ended, per
    /// partition, and how many records it held. See [`Txn::lost_commit`].
    last_commit: HashMap<Tp, i64>,
    last_commit_records: usize,
    /// Set when a transaction that lived through an outage aborted: the
    /// loop checks the last commit against the group's offsets.
    check_last_commit: bool,
}

impl State {
    /// Back to no open transaction, keeping the count buffers' allocations.
    fn reset(&mut self) {
        self.open = false;
        self.next.clear();
        self.first.clear();
        self.records = 0;
        self.started = None;
        self.consumed.fill(0);
        self.produced.fill(0);
        self.dead_letters.clear();
        self.span = None;
    }
}

/// Adds one to `counts[index]`, growing it if needed.
fn bump(counts: &mut Vec<u64>, index: usize) {
    if counts.len() <= index {
        counts.resize(index + 1, 0);
    }
    counts[index] += 1;
}

/// The next offset of each input partition processed in the open batch:
/// what its commit stores for the group.
fn offsets_to_commit(state: &State) -> Result<TopicPartitionList, Error> {
    let mut offsets = TopicPartitionList::with_capacity(state.next.len());
    for ((topic, partition), next) in &state.next {
        offsets
            .add_partition_offset(topic, *partition, Offset::Offset(*next))
            .map_err(|e| Error::kafka("listing offsets to commit", e))?;
    }
    Ok(offsets)
}

/// What ending a transaction did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// No transaction was open.
    Nothing,
    /// Committed, with this many input records.
    Committed(usize),
    /// Aborted: seek these partitions back to these offsets.
    Aborted(HashMap<Tp, i64>),
}

/// How a failed transaction call is handled.
enum Failure {
    Retry(KafkaError),
    Abort(KafkaError),
    /// The coordinator refused the call as an invalid transaction state:
    /// fatal for the producer, but the transactional id is still this
    /// instance's (no other instance fenced it), so a new producer can
    /// settle the transaction and go on.
    Refused(Error),
    Fatal(Error),
}

pub(crate) struct Txn {
    /// How each batch of records begins and ends: in a Kafka transaction,
    /// or flushed and then committed (at least once). Fixed at start.
    guarantee: Guarantee,
    producer: RwLock<Arc<TxnProducer>>,
    make_producer: ProducerFactory,
    pub(crate) transactional_id: String,
    timeout: Duration,
    state: Mutex<State>,
    metrics: Metrics,
    ports: PortMetrics,
    shared: Arc<Shared>,
    /// An error met inside the rebalance callback, for the loop to return.
    fatal: Mutex<Option<Error>>,
    assignment_changed: AtomicBool,
    /// The tasks' stores, persisted when a transaction commits.
    #[cfg(feature = "state")]
    pub(super) stores: Option<Arc<StateManager>>,
    delivered: Delivered,
}

impl std::fmt::Debug for Txn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("transactional_id", &self.transactional_id)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Txn {
    // Each is a separate part the transaction drives; a struct of them
    // would only repeat these fields.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        guarantee: Guarantee,
        make_producer: ProducerFactory,
        transactional_id: String,
        timeout: Duration,
        metrics: Metrics,
        ports: PortMetrics,
        shared: Arc<Shared>,
        delivered: Delivered,
    ) -> Result<Self, Error> {
        let producer = make_producer().map_err(|e| Error::kafka("creating the producer", e))?;
        Ok(Self {
            guarantee,
            ports,
            #[cfg(feature = "state")]
            stores: None,
            delivered,
            producer: RwLock::new(Arc::new(producer)),
            make_producer,
            transactional_id,
            timeout,
            state: Mutex::new(State::default()),
            metrics,
            shared,
            fatal: Mutex::new(None),
            assignment_changed: AtomicBool::new(false),
        })
    }

    /// The transactional producer in use; outputs go through it.
    pub(crate) fn producer(&self) -> Arc<TxnProducer> {
        self.producer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Registers the producer's transactional id with the coordinator, which
    /// aborts a transaction a previous incarnation left open and fences it.
    /// At least once, there is none to register.
    pub(crate) fn init(&self) -> Result<(), Error> {
        match self.guarantee {
            Guarantee::ExactlyOnce => self.init_producer(&self.producer()),
            Guarantee::AtLeastOnce => Ok(()),
        }
    }

    fn init_producer(&self, producer: &TxnProducer) -> Result<(), Error> {
        // Also the way in to recovering a transaction (a new producer).
        debug_assert_eq!(
            self.guarantee,
            Guarantee::ExactlyOnce,
            "no transactions at least once"
        );
        let mut attempts = 0;
        loop {
            match producer.init_transactions(self.timeout) {
                Ok(()) => return Ok(()),
                Err(err) => match self.classify(producer, err) {
                    Failure::Retry(err) | Failure::Abort(err) if attempts < 5 => {
                        attempts += 1;
                        tracing::warn!(error = %crate::ErrorChain(&err), attempt = attempts, "initialising transactions failed; retrying");
                        std::thread::sleep(Duration::from_millis(200 * attempts));
                    }
                    Failure::Retry(err) | Failure::Abort(err) => {
                        return Err(Error::kafka("initialising transactions", err))
                    }
                    Failure::Refused(err) | Failure::Fatal(err) => return Err(err),
                },
            }
        }
    }

    /// Opens a transaction if none is open, and notes that input `tp` is
    /// processed from `offset` in it.
    pub(crate) fn begin_for(&self, tp: &Tp, offset: i64) -> Result<(), Error> {
        let mut state = self.begin_locked()?;
        if !state.first.contains_key(tp) {
            state.first.insert(tp.clone(), offset);
        }
        Ok(())
    }

    /// Opens a transaction if none is open, for work that no input record
    /// carries (a timer's).
    pub(crate) fn begin(&self) -> Result<(), Error> {
        self.begin_locked().map(drop)
    }

    fn begin_locked(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut state = lock(&self.state);
        if !state.open {
            match self.guarantee {
                Guarantee::ExactlyOnce => self.begin_transaction()?,
                // Nothing to open: the batch's records go out as they are produced.
                Guarantee::AtLeastOnce => {}
            }
            state.open = true;
            state.started = Some(Instant::now());
            state.broker_errors_at_begin = self.broker_errors();
            state.refused_at_begin = self.delivered.refused.load(Ordering::Acquire);
            state.failed_at_begin = self.delivered.failed.load(Ordering::Acquire);
            // Filled in when it ends: `records`, the input records done in
            // it (an abort discards them); `outcome`, committed or aborted.
            state.span = Some(tracing::info_span!(
                "transaction",
                records = Empty,
                outcome = Empty
            ));
        }
        Ok(state)
    }

    fn begin_transaction(&self) -> Result<(), Error> {
        let producer = self.producer();
        producer
            .begin_transaction()
            .map_err(|err| match self.classify(&producer, err) {
                Failure::Refused(err) | Failure::Fatal(err) => err,
                Failure::Retry(err) | Failure::Abort(err) => Error::kafka("beginning a transaction", err),
            })
    }

    /// Marks input `tp` at `offset` as done in the open transaction.
    pub(crate) fn done(&self, tp: &Tp, offset: i64) {
        let mut state = lock(&self.state);
        // Isolation is rare: skip hashing the partition on the hot path.
        if !state.isolate.is_empty() && state.isolate.get(tp).is_some_and(|end| offset + 1 >= *end) {
            state.isolate.remove(tp);
        }
        match state.next.get_mut(tp) {
            Some(next) => *next = offset + 1,
            None => {
                state.next.insert(tp.clone(), offset + 1);
            }
        }
        state.records += 1;
    }

    /// Counts an input record of input port `port` (its index), for the
    /// metrics if the open transaction commits.
    pub(crate) fn count_consumed(&self, port: usize) {
        if self.ports.enabled {
            bump(&mut lock(&self.state).consumed, port);
        }
    }

    /// Counts an output record of output port `port` (its index), for the
    /// metrics if the open transaction commits.
    pub(crate) fn count_produced(&self, port: usize) {
        if self.ports.enabled {
            bump(&mut lock(&self.state).produced, port);
        }
    }

    /// Counts a dead letter, for the metrics if the open transaction commits.
    pub(crate) fn count_dead_letter(&self, reason: &str) {
        if !self.ports.enabled {
            return;
        }
        let mut state = lock(&self.state);
        match state.dead_letters.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                state.dead_letters.insert(reason.to_string(), 1);
            }
        }
    }

    /// The open transaction's span (disabled when none is open), to parent
    /// a record's span.
    pub(crate) fn span(&self) -> tracing::Span {
        lock(&self.state).span.clone().unwrap_or_else(tracing::Span::none)
    }

    /// The per-port metrics.
    pub(crate) fn ports(&self) -> &PortMetrics {
        &self.ports
    }

    /// The runtime's metrics.
    #[cfg(feature = "state")]
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Whether the open transaction should commit now.
    pub(crate) fn due(&self, interval: Duration, max_records: usize) -> bool {
        let state = lock(&self.state);
        let max_records = if state.isolate.is_empty() {
            max_records
        } else {
            state.isolate_limit.max(1)
        };
        state.open && (state.records >= max_records || state.started.is_some_and(|s| s.elapsed() >= interval))
    }

    /// When the open transaction must commit at the latest.
    pub(crate) fn deadline(&self, interval: Duration) -> Option<Instant> {
        let state = lock(&self.state);
        state.started.filter(|_| state.open).map(|s| s + interval)
    }

    /// Commits the open transaction (at least once: the open batch) with
    /// the input offsets processed in it. An abortable failure aborts it and
    /// says where to rewind.
    pub(crate) fn commit<C: ConsumerContext>(&self, consumer: &impl Consumer<C>) -> Result<Outcome, Error> {
        match self.guarantee {
            Guarantee::ExactlyOnce => self.commit_transaction(consumer),
            Guarantee::AtLeastOnce => self.commit_flushed(consumer),
        }
    }

    /// Aborts the open transaction (at least once: gives the open batch up,
    /// what it sent stays sent); says where to rewind.
    pub(crate) fn abort(&self) -> Result<Outcome, Error> {
        match self.guarantee {
            Guarantee::ExactlyOnce => self.abort_transaction(),
            Guarantee::AtLeastOnce => self.give_up_batch(),
        }
    }

    /// Commits the open Kafka transaction with the input offsets processed
    /// in it. An abortable failure aborts it and says where to rewind.
    fn commit_transaction<C: ConsumerContext>(&self, consumer: &impl Consumer<C>) -> Result<Outcome, Error> {
        debug_assert_eq!(
            self.guarantee,
            Guarantee::ExactlyOnce,
            "no transactions at least once"
        );
        let mut state = lock(&self.state);
        if !state.open {
            return Ok(Outcome::Nothing);
        }
        let started = Instant::now();
        let span = state.span.clone().unwrap_or_else(tracing::Span::none);
        let _entered = span.enter();
        let offsets = offsets_to_commit(&state)?;
        let group = consumer.group_metadata().ok_or_else(|| {
            Error::kafka(
                "reading the consumer group metadata",
                KafkaError::Global(RDKafkaErrorCode::State),
            )
        })?;
        // librdkafka's contract: a retriable error (a timeout, brokers
        // unreachable) leaves the call resumable, so only the step that
        // failed is called again, for as long as it stays retriable; an
        // abortable one aborts; a fatal one stops the instance.
        let producer = self.producer();
        let mut offsets_sent = offsets.count() == 0;
        let mut attempts = 0u32;
        let result = loop {
            let committing = offsets_sent;
            let step = if committing {
                producer.commit_transaction(self.timeout)
            } else {
                producer.send_offsets_to_transaction(&offsets, &group, self.timeout)
            };
            match step {
                Ok(()) if committing => break Ok(()),
                Ok(()) => offsets_sent = true,
                Err(err) => match self.classify(&producer, err) {
                    // With the brokers reachable, a step that stays retriable
                    // is not an outage to wait out: abort and rewind.
                    Failure::Retry(err) if attempts >= 5 && !self.outage(&state) => break Err(err),
                    Failure::Retry(err) => {
                        attempts += 1;
                        if let Err(err) = self.wait_to_retry("committing a transaction", err, attempts) {
                            state.open = false;
                            return Err(err);
                        }
                    }
                    Failure::Abort(err) => break Err(err),
                    Failure::Refused(err) => {
                        return self.resolve(&mut state, consumer, &offsets, started, &span, err)
                    }
                    Failure::Fatal(err) if self.expired(&state, &err) => {
                        return self.recover(&mut state, err)
                    }
                    Failure::Fatal(err) => {
                        state.open = false;
                        return Err(err);
                    }
                },
            }
        };
        match result {
            Ok(()) => self.committed(&mut state, started, &span),
            Err(err) => {
                tracing::warn!(error = %crate::ErrorChain(&err), "commit failed; aborting the transaction and rewinding");
                drop(state);
                drop(_entered);
                self.abort_transaction()
            }
        }
    }

    /// Ends the bookkeeping of a committed transaction: its store writes
    /// are persisted, its counts reach the metrics and the health.
    fn committed(&self, state: &mut State, started: Instant, span: &tracing::Span) -> Result<Outcome, Error> {
        let records = state.records;
        #[cfg(feature = "state")]
        if let Some(stores) = &self.stores {
            let ends: HashMap<Tp, i64> = (lock(&self.delivered.ends).iter_mut())
                .flat_map(|(topic, partitions)| {
                    (partitions.drain()).map(|(partition, last)| ((topic.clone(), partition), last + 1))
                })
                .collect();
            // Kafka has committed: a failure here leaves the local
            // store one batch behind, which the next restore replays.
            stores.persist(&state.next, &ends).map_err(Error::State)?;
        }
        // Swapped, not cloned: `reset` clears what was the previous one.
        std::mem::swap(&mut state.last_commit, &mut state.next);
        state.last_commit_records = records;
        if self.ports.enabled {
            for (counter, n) in self.ports.consumed.iter().zip(&state.consumed) {
                counter.inc_by(*n);
            }
            for (counter, n) in self.ports.produced.iter().zip(&state.produced) {
                counter.inc_by(*n);
            }
            for (reason, n) in &state.dead_letters {
                let label = self.metrics.dead_letter_label(reason);
                self.metrics.dead_letters.with_label_values(&[label]).inc_by(*n);
            }
            self.metrics.transactions_committed.inc();
            self.metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        state.reset();
        // A replay after a refusal that commits grows again: the refused
        // record is elsewhere, or already found.
        if !state.isolate.is_empty() {
            state.isolate_limit = state.isolate_limit.saturating_mul(2);
        }
        span.record("records", records);
        span.record("outcome", "committed");
        self.shared.update_health(|h| {
            h.transactions_committed += 1;
            h.records_committed += records as u64;
            // A commit proves the brokers answer again.
            h.brokers_down = false;
        });
        Ok(Outcome::Committed(records))
    }

    /// Settles a transaction whose commit the coordinator refused as an
    /// invalid state, with an outcome librdkafka cannot tell. A new producer
    /// with the same transactional id makes the coordinator finish it
    /// (completing a commit it had prepared, aborting one still open) and
    /// fences the old producer; the group's committed offsets then say which
    /// it was: all at the transaction's ends, committed; none, aborted.
    fn resolve<C: ConsumerContext>(
        &self,
        state: &mut State,
        consumer: &impl Consumer<C>,
        offsets: &TopicPartitionList,
        started: Instant,
        span: &tracing::Span,
        cause: Error,
    ) -> Result<Outcome, Error> {
        tracing::warn!(
            error = %crate::ErrorChain(&cause),
            "the coordinator refused to end the transaction; starting a new producer to settle it"
        );
        if let Err(err) = self.replace_producer() {
            state.open = false;
            return Err(err);
        }
        let stored = match consumer.committed_offsets(offsets.clone(), self.timeout) {
            Ok(stored) => stored,
            Err(err) => {
                state.open = false;
                return Err(Error::kafka(
                    "reading the group's offsets to settle a transaction",
                    err,
                ));
            }
        };
        let elements = offsets.elements();
        let at_end = elements
            .iter()
            .filter(|e| {
                stored
                    .find_partition(e.topic(), e.partition())
                    .is_some_and(|s| s.offset() == e.offset())
            })
            .count();
        match at_end {
            n if n == elements.len() && n > 0 => {
                tracing::info!("the refused transaction had committed");
                self.committed(state, started, span)
            }
            0 => {
                tracing::info!("the refused transaction was aborted; processing its input again");
                Ok(self.aborted(state))
            }
            _ => {
                state.open = false;
                Err(cause)
            }
        }
    }

    /// Aborts the open Kafka transaction; says where to rewind.
    fn abort_transaction(&self) -> Result<Outcome, Error> {
        debug_assert_eq!(
            self.guarantee,
            Guarantee::ExactlyOnce,
            "no transactions at least once"
        );
        let mut state = lock(&self.state);
        if !state.open {
            return Ok(Outcome::Nothing);
        }
        let span = state.span.clone().unwrap_or_else(tracing::Span::none);
        let _entered = span.enter();
        let producer = self.producer();
        self.settle(&producer, &state);
        let mut attempts = 0;
        loop {
            match producer.abort_transaction(self.timeout) {
                Ok(()) => break,
                Err(err) => match self.classify(&producer, err) {
                    Failure::Retry(err) | Failure::Abort(err) if attempts >= 5 && !self.outage(&state) => {
                        state.open = false;
                        return Err(Error::kafka("aborting a transaction", err));
                    }
                    Failure::Retry(err) | Failure::Abort(err) => {
                        attempts += 1;
                        if let Err(err) = self.wait_to_retry("aborting a transaction", err, attempts) {
                            state.open = false;
                            return Err(err);
                        }
                    }
                    Failure::Refused(err) => return self.recover(&mut state, err),
                    Failure::Fatal(err) if self.expired(&state, &err) => {
                        return self.recover(&mut state, err)
                    }
                    Failure::Fatal(err) => {
                        state.open = false;
                        return Err(err);
                    }
                },
            }
        }
        Ok(self.aborted(&mut state))
    }

    /// Waits, briefly, until the open transaction's outputs are delivered,
    /// which proves the coordinator has registered their partitions.
    ///
    /// librdkafka sends the abort as soon as it has *sent* a partition's
    /// registration. When that registration waits behind the completion of
    /// the previous commit, the abort can reach the coordinator first, find
    /// the previous transaction complete and no new one, and be rejected as
    /// an invalid transaction state: fatal for the producer (librdkafka
    /// issue 4849). A delivered output cannot overtake its registration.
    /// Skipped while the brokers are away: nothing would be delivered.
    fn settle(&self, producer: &TxnProducer, state: &State) {
        if self.outage(state) {
            return;
        }
        if let Err(err) = producer.flush(self.timeout.min(SETTLE_LIMIT)) {
            tracing::debug!(error = %crate::ErrorChain(&err), "outputs still in flight before the abort");
        }
    }

    /// Ends the bookkeeping of an aborted transaction: its store writes are
    /// dropped, its counts with them; says where to rewind its inputs.
    fn aborted(&self, state: &mut State) -> Outcome {
        #[cfg(feature = "state")]
        if let Some(stores) = &self.stores {
            stores.discard();
            lock(&self.delivered.ends).clear();
        }
        if self.delivered.refused.load(Ordering::Acquire) > state.refused_at_begin {
            self.isolate_refusal(state);
        }
        // See `lost_commit`.
        state.check_last_commit |= self.outage(state);
        let rewind = std::mem::take(&mut state.first);
        if let Some(span) = &state.span {
            span.record("records", state.records);
            span.record("outcome", "aborted");
        }
        state.reset();
        if self.ports.enabled {
            self.metrics.transactions_aborted.inc();
        }
        self.shared.update_health(|h| h.transactions_aborted += 1);
        Outcome::Aborted(rewind)
    }

    /// An output of the aborted transaction was refused for what it is.
    /// Delivery reports come late and a refused batch fails every output
    /// in it, so the record at fault is found by bisection: the
    /// transaction's inputs are replayed in transactions of half its size,
    /// halved again at each refusal, until a refusal in a transaction of one
    /// record names it (about log2 of the transaction's records aborts).
    fn isolate_refusal(&self, state: &mut State) {
        let single = state.records == 1 && state.first.len() == 1;
        match state.first.iter().next() {
            Some((tp, offset)) if single => {
                tracing::warn!(topic = %tp.0, partition = tp.1, offset, "an output of this record was refused by the brokers");
                state.culprit = Some((tp.clone(), *offset));
            }
            _ => {
                state.isolate_limit = (state.records / 2).max(1);
                tracing::warn!(
                    records = state.records, replay_by = state.isolate_limit,
                    "an output was refused by the brokers; replaying the transaction in smaller ones to find its record"
                );
                for (tp, next) in &state.next {
                    let end = state.isolate.entry(tp.clone()).or_insert(*next);
                    *end = (*end).max(*next);
                }
            }
        }
    }

    /// Takes the record whose output the brokers refused, found by an
    /// isolated transaction, with the refusal.
    pub(crate) fn take_culprit(&self) -> Option<(Tp, i64, String)> {
        let (tp, offset) = lock(&self.state).culprit.take()?;
        let refusal = lock(&self.delivered.last_refusal)
            .clone()
            .unwrap_or_else(|| "refused by the brokers".to_string());
        Some((tp, offset, refusal))
    }

    /// Whether [`lost_commit`](Self::lost_commit) has something to check:
    /// a transaction that lived through an outage aborted since.
    pub(crate) fn checks_last_commit(&self) -> bool {
        lock(&self.state).check_last_commit
    }

    /// After a transaction that lived through an outage of the brokers
    /// aborted: whether the one committed before it was lost, by the
    /// group's `committed` offsets of the assigned partitions (`None`: none
    /// committed). Then its inputs are no longer counted committed, and the
    /// loop must go back to the group's offsets, as a restarted instance
    /// would: rewinding to where the aborted one began would skip them.
    ///
    /// A commit acknowledged just as the brokers shut down can be lost so:
    /// the coordinator recorded it complete, but after the restart its
    /// COMMIT markers were missing from the partitions, so the next
    /// transaction's ABORT markers aborted its outputs, state writes and
    /// input offsets too.
    pub(crate) fn lost_commit(&self, committed: &HashMap<Tp, Option<i64>>) -> bool {
        let mut state = lock(&self.state);
        if !std::mem::take(&mut state.check_last_commit) {
            return false;
        }
        let behind: Vec<(&Tp, Option<i64>, i64)> = state
            .last_commit
            .iter()
            // A partition given up since is its new owner's to resume.
            .filter_map(|(tp, next)| Some((tp, *committed.get(tp)?, *next)))
            .filter(|(_, group, next)| group.is_none_or(|g| g < *next))
            .collect();
        if behind.is_empty() {
            return false;
        }
        for (tp, group, next) in &behind {
            tracing::warn!(
                topic = %tp.0, partition = tp.1, group_offset = ?group, committed_here = next,
                "the brokers lost a committed transaction (its commit was aborted with the next one); processing its input again"
            );
        }
        let lost = std::mem::take(&mut state.last_commit_records) as u64;
        state.last_commit.clear();
        self.shared
            .update_health(|h| h.records_committed = h.records_committed.saturating_sub(lost));
        true
    }

    /// Whether a fatal `err` is the brokers aborting this instance's own
    /// transaction after its timeout, rather than another instance taking
    /// over its transactional id: librdkafka reports both as "fenced". Only
    /// a transaction that lived through an outage of the brokers (connection
    /// errors reported while it was open) and longer than its timeout is
    /// taken for the first; anything else stays fatal, so that two instances
    /// given one identity do not fence each other in turn.
    fn expired(&self, state: &State, err: &Error) -> bool {
        matches!(err, Error::Fenced { .. })
            && state.started.is_some_and(|s| s.elapsed() >= self.timeout)
            && self.outage(state)
    }

    /// Whether connection errors were reported since the open transaction
    /// began: the brokers went away while it was open.
    fn outage(&self, state: &State) -> bool {
        self.broker_errors() > state.broker_errors_at_begin
    }

    fn broker_errors(&self) -> u64 {
        lock(&self.shared.health).broker_errors
    }

    /// Recovers from a transaction the brokers ended or refused to end (it
    /// outlived its timeout, or its abort was refused): a new producer with
    /// the same transactional id (whose initialisation aborts what is still
    /// open and fences the old one), and the transaction's inputs are
    /// processed again from where it began, as after any abort.
    fn recover(&self, state: &mut State, cause: Error) -> Result<Outcome, Error> {
        let age = state.started.map(|s| s.elapsed());
        tracing::warn!(
            error = %crate::ErrorChain(&cause), ?age, timeout = ?self.timeout,
            "the brokers ended the open transaction; starting a new producer and processing its input again"
        );
        if let Err(err) = self.replace_producer() {
            state.open = false;
            return Err(err);
        }
        Ok(self.aborted(state))
    }

    /// Replaces the producer with a new one of the same transactional id,
    /// initialised: the coordinator settles what the old one left open.
    fn replace_producer(&self) -> Result<(), Error> {
        let fresh =
            Arc::new((self.make_producer)().map_err(|e| Error::kafka("creating the producer again", e))?);
        self.init_producer(&fresh)?;
        let old = std::mem::replace(
            &mut *self.producer.write().unwrap_or_else(PoisonError::into_inner),
            fresh,
        );
        // The old producer is fenced for good: drop what it still holds
        // rather than wait for it.
        old.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
        Ok(())
    }

    /// Waits before calling a resumable transaction step again: a back-off
    /// that doubles up to 5 s, so that an outage of the brokers is ridden
    /// through without a crash loop. Gives up only when the runtime is asked
    /// to stop meanwhile; the broker then aborts the open transaction after
    /// its timeout, and the uncommitted input is processed again on restart.
    pub(crate) fn wait_to_retry(
        &self,
        operation: &'static str,
        err: KafkaError,
        attempts: u32,
    ) -> Result<(), Error> {
        if *self.shared.stop.borrow() {
            return Err(Error::kafka(operation, err));
        }
        let backoff = Duration::from_millis(100u64.saturating_mul(1 << attempts.min(6)).min(5_000));
        tracing::warn!(
            error = %crate::ErrorChain(&err), attempt = attempts, retry_in = ?backoff,
            "{operation} did not complete; retrying it"
        );
        std::thread::sleep(backoff);
        Ok(())
    }

    fn classify(&self, producer: &TxnProducer, err: KafkaError) -> Failure {
        let fenced = |code: RDKafkaErrorCode| {
            matches!(
                code,
                RDKafkaErrorCode::Fenced
                    | RDKafkaErrorCode::ProducerFenced
                    | RDKafkaErrorCode::InvalidProducerEpoch
                    | RDKafkaErrorCode::TransactionCoordinatorFenced
            )
        };
        let fatal = |err: KafkaError| {
            let code = producer
                .client()
                .fatal_error()
                .map(|(code, _)| code)
                .or_else(|| err.rdkafka_error_code());
            if code.is_some_and(fenced) {
                Failure::Fatal(Error::Fenced {
                    transactional_id: self.transactional_id.clone(),
                })
            } else if code == Some(RDKafkaErrorCode::InvalidTransactionalState) {
                Failure::Refused(Error::kafka("ending a transaction", err))
            } else {
                Failure::Fatal(Error::kafka("a transaction", err))
            }
        };
        match &err {
            KafkaError::Transaction(e) if e.is_fatal() => fatal(err),
            KafkaError::Transaction(e) if fenced(e.code()) => fatal(err),
            KafkaError::Transaction(e) if e.txn_requires_abort() => Failure::Abort(err),
            KafkaError::Transaction(e) if e.is_retriable() => Failure::Retry(err),
            KafkaError::Transaction(_) => fatal(err),
            _ => Failure::Retry(err),
        }
    }

    /// Whether the product keeps stores.
    fn has_stores(&self) -> bool {
        #[cfg(feature = "state")]
        return self.stores.is_some();
        #[cfg(not(feature = "state"))]
        false
    }

    /// Counts changelog records applied by a restore.
    #[cfg(feature = "state")]
    pub(crate) fn record_restored(&self, records: u64) {
        if self.ports.enabled {
            self.metrics.records_restored.inc_by(records);
        }
        self.shared.update_health(|h| h.records_restored += records);
    }

    /// Takes an error the rebalance callback met.
    pub(crate) fn take_fatal(&self) -> Option<Error> {
        lock(&self.fatal).take()
    }

    /// Whether the assignment changed since the last call.
    pub(crate) fn take_assignment_changed(&self) -> bool {
        self.assignment_changed.swap(false, Ordering::AcqRel)
    }
}

/// The consumer's context: finishes the open transaction before partitions
/// are given up, so their new owner starts exactly where this one committed.
pub(crate) struct RebalanceContext {
    pub(crate) txn: Arc<Txn>,
}

impl ClientContext for RebalanceContext {
    /// Logged only: the consumer's events wait in its queue while the loop
    /// is held up (in a commit the outage stalls), so they would reach the
    /// health late, after the recovery. The producer's thread reports the
    /// same outage at once.
    /// The consumer's connection errors count as the producer's do (a
    /// leader that dies was not always seen by the producer, and its health
    /// then showed no error), except "all brokers down": the consumer's
    /// errors wait in its queue while the loop is in a blocking commit, and
    /// one served after the brokers came back would mark them down again.
    /// The producer, polled by its own thread, says that one in time.
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            tracing::warn!(error = %error, reason, "consumer: all brokers down");
            return;
        }
        self.txn.shared.broker_error(&error, reason);
    }

    /// Consumer lag per assigned partition, from the statistics librdkafka
    /// emits every `statistics.interval.ms`: no broker round trip of ours.
    fn stats(&self, statistics: Statistics) {
        let metrics = &self.txn.metrics;
        if !metrics.is_enabled() {
            return;
        }
        for (topic, t) in &statistics.topics {
            for (partition, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; only
                // partitions being fetched have a position.
                if *partition < 0 || p.fetch_state != "active" {
                    continue;
                }
                // Under read_committed the end is the last stable offset.
                let end = if p.ls_offset >= 0 {
                    p.ls_offset
                } else {
                    p.hi_offset
                };
                if let Some(lag) = crate::metrics::lag(end, p.app_offset) {
                    metrics
                        .consumer_lag
                        .with_label_values(&[topic.as_str(), &partition.to_string()])
                        .set(lag);
                }
            }
        }
    }
}

impl ConsumerContext for RebalanceContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            // Lost partitions (the session timed out, or the loop did not
            // poll within `max.poll.interval.ms`) may already be another
            // member's: their offsets are no longer this member's to commit.
            let lost = consumer.assignment_lost();
            tracing::info!(
                partitions = partitions.count(),
                lost,
                "partitions revoked; finishing the open transaction"
            );
            if lost {
                if self.txn.metrics.is_enabled() {
                    self.txn.metrics.assignments_lost.inc();
                }
                self.txn.shared.update_health(|h| h.assignments_lost += 1);
            }
            let ended = if lost {
                self.txn.abort()
            } else {
                self.txn.commit(consumer)
            };
            // An abort's rewind is dropped: the partitions are given up, and
            // whoever is assigned them next (this member too) starts from
            // the group's committed offsets. Seeking back to where the
            // aborted transaction began would process again what another
            // member committed meanwhile.
            if let Err(err) = ended {
                tracing::error!(error = %crate::ErrorChain(&err), "cannot finish the transaction on revocation");
                lock(&self.txn.fatal).get_or_insert(err);
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Error(err) = rebalance {
            tracing::warn!(error = %crate::ErrorChain(&err), "rebalance error");
        }
        // The eager protocol hands over the whole assignment, and a revoke or
        // an error leaves none. Asking the consumer instead would wait on its
        // group's queue, which a closing consumer no longer serves: the
        // revoke delivered while it is dropped then hangs the drop forever.
        let assigned = match rebalance {
            Rebalance::Assign(partitions) => partitions.count(),
            Rebalance::Revoke(_) | Rebalance::Error(_) => 0,
        };
        tracing::info!(assigned, "partition assignment changed");
        let joined = matches!(rebalance, Rebalance::Assign(_));
        // Until the loop has restored them, the stores of assigned partitions
        // wait to be restored: not ready yet.
        let restore_pending = joined && assigned > 0 && self.txn.has_stores();
        let metrics = &self.txn.metrics;
        if metrics.is_enabled() {
            metrics.assigned_partitions.set(assigned as i64);
            // Partitions given up keep no lag; the next statistics refill the rest.
            metrics.consumer_lag.reset();
            if restore_pending {
                metrics.restoring_partitions.set(assigned as i64);
            }
        }
        self.txn.shared.update_health(|h| {
            h.assigned_partitions = assigned;
            h.joined |= joined;
            h.restoring |= restore_pending;
        });
        #[cfg(feature = "state")]
        if let (Rebalance::Assign(partitions), Some(stores)) = (rebalance, &self.txn.stores) {
            let elements = partitions.elements();
            let assigned = elements.iter().map(|e| (e.topic(), e.partition()));
            if let Some(err) = super::tasks::split(assigned, stores.inputs()) {
                tracing::error!(error = %crate::ErrorChain(&err), "the assignment splits a task");
                lock(&self.txn.fatal).get_or_insert(err);
            }
        }
        // Marks of partitions given up would never be passed.
        lock(&self.txn.state).isolate.clear();
        self.txn.assignment_changed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction manager whose producer never connects: enough for the
    /// bookkeeping, which is what these tests look at.
    fn txn() -> Txn {
        let shared = Arc::new(super::super::tests::shared());
        let delivered: Delivered = Arc::default();
        let context = (delivered.clone(), shared.clone());
        let make: ProducerFactory = Box::new(move || {
            rdkafka::ClientConfig::new()
                .set("bootstrap.servers", "127.0.0.1:1")
                .set("transactional.id", "lost-commit")
                .create_with_context(DeliveryContext {
                    changelogs: Default::default(),
                    delivered: context.0.clone(),
                    shared: context.1.clone(),
                })
        });
        let identity = crate::ProductDescriptor::builder("tests", "txn")
            .version("0.1.0")
            .owner("tests")
            .input("in", "in")
            .output("out", "out")
            .build()
            .expect("descriptor")
            .identity;
        let metrics = Metrics::disabled(&identity);
        let ports = PortMetrics::new(&metrics, &["in"], &["out"]);
        Txn::new(
            Guarantee::ExactlyOnce,
            make,
            "lost-commit".into(),
            Duration::from_secs(5),
            metrics,
            ports,
            shared,
            delivered,
        )
        .expect("txn")
    }

    fn tp(partition: i32) -> Tp {
        ("in".to_string(), partition)
    }

    /// The last commit held 500 records of partition 2 up to offset 1000,
    /// and the health counted them; a transaction that lived through an
    /// outage has aborted since.
    fn after_an_outage_abort(txn: &Txn) {
        txn.shared.update_health(|h| h.records_committed = 1500);
        let mut state = lock(&txn.state);
        state.last_commit = HashMap::from([(tp(2), 1000)]);
        state.last_commit_records = 500;
        state.check_last_commit = true;
    }

    fn records_committed(txn: &Txn) -> u64 {
        lock(&txn.shared.health).records_committed
    }

    #[test]
    fn a_commit_the_group_does_not_have_is_lost_and_uncounted() {
        for group in [Some(500), None] {
            let txn = txn();
            after_an_outage_abort(&txn);
            assert!(txn.checks_last_commit());
            let committed = HashMap::from([(tp(2), group), (tp(3), Some(40))]);
            assert!(txn.lost_commit(&committed), "group offset {group:?}");
            assert_eq!(records_committed(&txn), 1000);
            // Checked once: a later abort does not count it lost again.
            assert!(!txn.checks_last_commit());
            assert!(!txn.lost_commit(&committed));
            assert_eq!(records_committed(&txn), 1000);
        }
    }

    #[test]
    fn a_commit_the_group_has_or_a_partition_given_up_is_not_lost() {
        for committed in [
            HashMap::from([(tp(2), Some(1000))]),
            HashMap::from([(tp(2), Some(1200))]),
            // Partition 2 is another member's now.
            HashMap::from([(tp(3), None)]),
        ] {
            let txn = txn();
            after_an_outage_abort(&txn);
            assert!(!txn.lost_commit(&committed), "{committed:?}");
            assert_eq!(records_committed(&txn), 1500);
        }
    }

    #[test]
    fn without_an_outage_abort_nothing_is_checked() {
        let txn = txn();
        after_an_outage_abort(&txn);
        lock(&txn.state).check_last_commit = false;
        assert!(!txn.checks_last_commit());
        assert!(!txn.lost_commit(&HashMap::from([(tp(2), None)])));
        assert_eq!(records_committed(&txn), 1500);
    }
}
