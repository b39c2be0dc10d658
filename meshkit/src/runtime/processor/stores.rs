//! The processing loop's part of the tasks' stores: writing changelogs,
//! sampling sizes, and bringing the stores of newly assigned tasks up to
//! date inside the poll loop: their input partitions are paused, their changelogs replayed one
//! slice per loop turn, and each task's inputs resumed once its stores are
//! restored, while the consumer keeps polling and the tasks already
//! restored keep processing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::super::contract::Context;
use super::super::txn::{RebalanceContext, Tp, Txn};
use super::super::Shared;
use super::{send_parts, Loop, Outgoing};
use crate::config::Config;
use crate::kafka::{self, blocking, EmbeddedCluster, TopicRole};
use crate::product::ProductDescriptor;
use crate::runtime::Error;
use crate::stores::manager::{RemainingGauge, Restoration, SOURCE_OFFSET, SOURCE_TOPIC};
use crate::stores::StateManager;

/// The longest one restore slice blocks the loop.
const SLICE: Duration = Duration::from_millis(50);

/// How often the stores' size gauges are read.
const STATE_SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// The stores of the tasks one processing loop owns.
pub(super) type Stores = Arc<StateManager>;

/// The stores processing thread `thread` keeps its tasks in: the first
/// thread's are `stores`, the others' are siblings of them, under the same
/// directory, each opening only its own tasks' databases.
pub(super) fn stores_for_thread(stores: Option<&Stores>, thread: usize) -> Option<Stores> {
    stores.map(|stores| match thread {
        0 => stores.clone(),
        _ => Arc::new(stores.sibling()),
    })
}

/// The loop's part of the tasks' stores.
pub(super) struct LoopStores {
    /// `None` when the product declares no store.
    manager: Option<Arc<StateManager>>,
    /// Settings of the consumers that replay changelogs.
    restore_client: ClientConfig,
    /// Restores of assigned tasks' stores in progress, run one slice per
    /// loop turn; their input partitions are paused.
    restoring: Vec<Restoration>,
    /// The first offset of each paused partition that arrived anyway.
    held_back: HashMap<Tp, i64>,
    /// When the size gauges were last read.
    sampled: Option<Instant>,
}

impl LoopStores {
    pub(super) fn new(manager: Option<Arc<StateManager>>, restore_client: ClientConfig) -> Self {
        Self {
            manager,
            restore_client,
            restoring: Vec::new(),
            held_back: HashMap::new(),
            sampled: None,
        }
    }
}

/// Opens the product's stores, one per name and input partition, and makes
/// sure each has its changelog, of as many partitions as the widest input.
/// `None` when the product declares no store.
pub(super) async fn open_stores(
    descriptor: &ProductDescriptor,
    config: &Config,
    (application_id, brokers): (&str, &str),
    embedded: Option<&EmbeddedCluster>,
    partitions: &HashMap<String, usize>,
    schemas: &super::Schemas,
) -> Result<Option<Arc<StateManager>>, Error> {
    let state = (!descriptor.stores.is_empty()).then(|| {
        let manager = StateManager::new(
            config.state_dir.join(application_id),
            application_id,
            descriptor.stores.iter().map(|s| s.name.clone()).collect(),
            descriptor.task_inputs().map(|p| p.topic.clone()).collect(),
        )
        .with_ttls(crate::runtime::contract::ttls(descriptor));
        #[cfg(feature = "avro")]
        let manager = manager.with_values(schemas.stores.clone());
        #[cfg(not(feature = "avro"))]
        let _ = schemas;
        Arc::new(manager)
    });
    if let Some(stores) = &state {
        let width = super::super::tasks::width(descriptor.task_inputs(), partitions)?;
        let changelogs: Vec<(String, TopicRole)> = stores
            .changelogs()
            .iter()
            .zip(&descriptor.stores)
            .map(|(topic, store)| {
                (
                    topic.clone(),
                    TopicRole::Changelog {
                        store: store.name.clone(),
                        partitions: width,
                    },
                )
            })
            .collect();
        let all = kafka::ensure_topics(brokers, embedded, &config.kafka, &changelogs).await?;
        kafka::check_changelogs(brokers, embedded.is_some(), &config.kafka, &all, &changelogs).await?;
    }
    Ok(state)
}

/// The changelog topics of `stores`, whose deliveries the producer tracks.
pub(super) fn changelog_topics(stores: Option<&Arc<StateManager>>) -> HashSet<String> {
    stores
        .iter()
        .flat_map(|s| s.changelogs().iter().cloned())
        .collect()
}

/// Has a stateful product's consumer assign whole tasks (see `tasks`).
pub(super) fn assign_whole_tasks(
    consumer: &mut ClientConfig,
    stores: Option<&Arc<StateManager>>,
    config: &Config,
) -> Result<(), Error> {
    if stores.is_some() {
        consumer.set(
            "partition.assignment.strategy",
            super::super::tasks::assignor(config)?,
        );
    }
    Ok(())
}

/// Lets the transactions persist and discard the stores' writes.
pub(super) fn attach_stores(txn: &mut Txn, stores: Option<&Arc<StateManager>>) {
    txn.stores = stores.cloned();
}

/// The transform's context, with the stores.
pub(super) fn context_with_stores(
    descriptor: &ProductDescriptor,
    stores: Option<&Arc<StateManager>>,
) -> Context {
    Context::with_state(descriptor, stores.cloned())
}

impl Loop<'_> {
    /// Notes a record's timestamp on the bound task (its stream time).
    pub(super) fn observe(&mut self, timestamp: Option<i64>) {
        self.ctx.observe(timestamp);
    }

    /// Removes the bound task's due expired entries in the open
    /// transaction (their tombstones go with its changelog writes).
    pub(super) fn expire_due(&mut self) -> Result<usize, crate::TransformError> {
        Ok(self.ctx.expire_due()?)
    }

    /// Whether any task's stores are being restored.
    pub(super) fn restoring_any(&self) -> bool {
        !self.stores.restoring.is_empty()
    }

    /// Reads the stores' sizes into their gauges, at most every
    /// [`STATE_SAMPLE_EVERY`] unless `now`.
    pub(super) fn sample_state(&mut self, now: bool) {
        let Some(stores) = &self.stores.manager else {
            return;
        };
        let metrics = self.txn.metrics();
        if !metrics.is_enabled()
            || !(now
                || self
                    .stores
                    .sampled
                    .is_none_or(|t| t.elapsed() >= STATE_SAMPLE_EVERY))
        {
            return;
        }
        self.stores.sampled = Some(Instant::now());
        if now {
            metrics.state_keys.reset();
            metrics.state_bytes.reset();
        }
        for (partition, keys, bytes) in stores.sizes() {
            let partition = partition.to_string();
            let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            metrics
                .state_keys
                .with_label_values(&[&partition])
                .set(as_i64(keys));
            metrics
                .state_bytes
                .with_label_values(&[&partition])
                .set(as_i64(bytes));
        }
    }

    /// Whether the stores of `partition`'s task are being restored (its
    /// input records wait).
    pub(super) fn is_restoring(&self, partition: i32) -> bool {
        self.stores
            .restoring
            .iter()
            .any(|job| job.partition() == partition)
    }

    /// A record of a task being restored arrived (fetched before its pause
    /// took effect): it is not processed, and its partition is read again
    /// from it when the task resumes.
    pub(super) fn hold_back(&mut self, tp: Tp, offset: i64) {
        self.stores.held_back.entry(tp).or_insert(offset);
    }

    /// Opens the stores of newly assigned tasks and starts restoring those
    /// behind the group's committed offsets (their input partitions paused
    /// meanwhile); closes those of tasks given up.
    pub(super) fn sync_state(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        shared: &Shared,
    ) -> Result<(), Error> {
        let Some(stores) = self.stores.manager.clone() else {
            return Ok(());
        };
        // Restores of the previous assignment end here; one started again
        // goes on from the store's checkpoint.
        self.stores.restoring.clear();
        self.stores.held_back.clear();
        let timeout = self.config.kafka.startup_timeout;
        let committed = blocking(|| consumer.committed(timeout))
            .map_err(|e| Error::kafka("reading the group's committed offsets", e))?;
        let mut by_partition: HashMap<i32, HashMap<String, i64>> = HashMap::new();
        for element in committed.elements() {
            let entry = by_partition.entry(element.partition()).or_default();
            if let Offset::Offset(next) = element.offset() {
                entry.insert(element.topic().to_string(), next);
            }
        }
        let assigned: Vec<i32> = by_partition.keys().copied().collect();
        stores.retain(&assigned);
        let metrics = self.txn.metrics();
        let gauge = metrics.is_enabled().then(|| {
            let gauge = metrics.restore_remaining.clone();
            Arc::new(move |change| gauge.add(change)) as RemainingGauge
        });
        let mut paused = TopicPartitionList::new();
        for (partition, committed) in &by_partition {
            let job = blocking(|| {
                stores.begin_restore(
                    *partition,
                    &self.stores.restore_client,
                    committed,
                    timeout,
                    gauge.clone(),
                )
            })
            .map_err(|err| Error::Restore {
                partition: *partition,
                message: crate::ErrorChain(&err).to_string(),
            })?;
            if let Some(job) = job {
                // A task is partition n of every input (checked at each
                // assignment), so its partitions are named, not looked up.
                for topic in stores.inputs() {
                    paused.add_partition(topic, *partition);
                }
                self.stores.restoring.push(job);
            }
        }
        if paused.count() > 0 {
            consumer
                .pause(&paused)
                .map_err(|e| Error::kafka("pausing the partitions of tasks being restored", e))?;
            tracing::info!(
                tasks = self.stores.restoring.len(),
                "restoring the stores of assigned tasks; their inputs wait"
            );
        }
        self.restores_left(shared);
        Ok(())
    }

    /// Runs one slice of the first restore in progress; when it completes,
    /// resumes its task's inputs (from the first record held back, if any).
    pub(super) fn restore_step(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        shared: &Shared,
    ) -> Result<(), Error> {
        let (Some(stores), Some(job)) = (self.stores.manager.clone(), self.stores.restoring.first_mut())
        else {
            return Ok(());
        };
        let partition = job.partition();
        let done = blocking(|| stores.step_restore(job, SLICE)).map_err(|err| Error::Restore {
            partition,
            message: crate::ErrorChain(&err).to_string(),
        })?;
        let Some(stats) = done else { return Ok(()) };
        self.stores.restoring.remove(0);
        tracing::info!(
            partition, restored = stats.restored, skipped = stats.skipped,
            from_checkpoint = stats.from_checkpoint, elapsed = ?stats.elapsed, "partition restored"
        );
        self.txn.record_restored(stats.restored);
        self.resume(consumer, &stores, partition)?;
        self.restores_left(shared);
        Ok(())
    }

    /// Says how many restores are left (metrics), and that the instance is
    /// ready once none is (health).
    fn restores_left(&mut self, shared: &Shared) {
        let metrics = self.txn.metrics();
        if metrics.is_enabled() {
            metrics
                .restoring_partitions
                .set(self.stores.restoring.len() as i64);
        }
        if self.stores.restoring.is_empty() {
            shared.update_health(|h| h.restoring = false);
            self.sample_state(true);
        }
    }

    fn resume(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        stores: &StateManager,
        partition: i32,
    ) -> Result<(), Error> {
        let mut tpl = TopicPartitionList::new();
        for topic in stores.inputs() {
            let tp: Tp = (topic.clone(), partition);
            if let Some(offset) = self.stores.held_back.remove(&tp) {
                blocking(|| consumer.seek(topic, partition, Offset::Offset(offset), Duration::from_secs(10)))
                    .map_err(|e| Error::kafka("reading a held-back record again", e))?;
            }
            tpl.add_partition(topic, partition);
        }
        consumer
            .resume(&tpl)
            .map_err(|e| Error::kafka("resuming the partitions of a restored task", e))
    }

    /// Produces the store writes the transform made for the record at
    /// `source`@`offset` to their changelogs, in the open transaction, each
    /// tagged with its source record (what a restore checks).
    pub(super) async fn write_changelog(
        &mut self,
        input_timestamp: Option<i64>,
        source: &Tp,
        offset: i64,
    ) -> Result<(), KafkaError> {
        let mut writes = self.ctx.take_changelog();
        if let Some(stores) = self.stores.manager.as_ref().filter(|_| !writes.is_empty()) {
            let mut digits = [0u8; 20];
            let offset_text = decimal(offset, &mut digits);
            let producer = self.txn.producer();
            for write in writes.drain(..) {
                // Borrowed straight into the client's headers: owned copies
                // of the names and values cost four allocations a write.
                let headers = OwnedHeaders::new_with_capacity(2)
                    .insert(Header {
                        key: SOURCE_TOPIC,
                        value: Some(source.0.as_bytes()),
                    })
                    .insert(Header {
                        key: SOURCE_OFFSET,
                        value: Some(offset_text),
                    });
                let out = Outgoing {
                    topic: stores.changelog(write.store),
                    partition: Some(write.partition),
                    key: Some(&write.key),
                    value: write.value.as_deref(),
                    headers: Some(headers),
                    timestamp: input_timestamp,
                };
                send_parts(&producer, out).await?;
            }
        }
        self.ctx.return_changelog(writes);
        Ok(())
    }
}

/// `n` in decimal, written into `buf` (20 bytes hold any `i64`'s digits).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // At most 19 digits and a sign: it fits.
    let _ = write!(cursor, "{n}");
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    &buf[..len]
}

#[cfg(test)]
mod decimal_tests {
    use super::decimal;

    #[test]
    fn offsets_are_written_as_their_decimal_digits() {
        let mut buf = [0u8; 20];
        for n in [0, 7, 1_234_567, i64::MAX, i64::MIN, -1] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
