//! Restoring a partition's stores from their changelogs, one slice at a
//! time: the processing loop runs a slice between polls of its consumer, so
//! a long restore never keeps the member from polling (a member that does
//! not poll within `max.poll.interval.ms` leaves the group), and records of
//! partitions already restored keep flowing meanwhile, as in Kafka Streams.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use rocksdb::{WriteBatch, DB};

use super::{
    data_key_into, db_error, lock, Backend, Checkpoint, RestoreError, RestoreStats, StateManager,
    CHECKPOINT_KEY,
};
use super::{SOURCE_OFFSET, SOURCE_TOPIC, TIMER_SOURCE};
use crate::stores::{ttl, StateError};

/// Records written to RocksDB in one batch while replaying.
const BATCH: usize = 10_000;

/// One partition's restore in progress: made by
/// [`StateManager::begin_restore`], advanced by
/// [`StateManager::step_restore`].
pub(crate) struct Restoration {
    partition: i32,
    committed: HashMap<String, i64>,
    client: ClientConfig,
    timeout: Duration,
    checkpoint: Checkpoint,
    /// The changelog (by store index) to replay next.
    next_store: usize,
    replay: Option<Replay>,
    stats: RestoreStats,
    started: Instant,
    remaining: Option<RemainingGauge>,
}

impl Restoration {
    /// The input partition (the task) being restored.
    pub(crate) fn partition(&self) -> i32 {
        self.partition
    }
}

impl StateManager {
    /// Opens `partition`'s local store, if not open, and says what it takes
    /// to bring it up to the group's `committed` input offsets (by input
    /// topic): `None` when it is up to date, else a restore to run with
    /// [`step_restore`](Self::step_restore). `remaining` is told the change
    /// in changelog records left to replay (a gauge the runtime keeps).
    pub(crate) fn begin_restore(
        &self,
        partition: i32,
        client: &ClientConfig,
        committed: &HashMap<String, i64>,
        timeout: Duration,
        remaining: Option<RemainingGauge>,
    ) -> Result<Option<Restoration>, RestoreError> {
        if self.dir.is_none() {
            return Ok(None);
        }
        self.open_local(partition)?;
        let mut partitions = lock(&self.partitions);
        let Some(p) = partitions.get_mut(&partition) else {
            return Err(RestoreError::State(StateError::NoState));
        };
        let position = |topic: &String| p.checkpoint.inputs.get(topic).copied().unwrap_or(0);
        let wanted = |topic: &String| committed.get(topic).copied().unwrap_or(0);
        let from_checkpoint = !p.checkpoint.inputs.is_empty();
        let up_to_date = self.inputs.iter().all(|t| position(t) == wanted(t));
        if up_to_date && (from_checkpoint || committed.is_empty()) {
            return Ok(None);
        }
        let mut stats = RestoreStats {
            partition,
            from_checkpoint,
            ..RestoreStats::default()
        };
        if self.inputs.iter().any(|t| position(t) > wanted(t)) {
            // Local state claims more than Kafka committed: not ours to trust.
            tracing::warn!(
                partition,
                "local state is ahead of the group's committed offsets; rebuilding it"
            );
            if let Backend::Rocks(db) = &p.backend {
                let mut batch = WriteBatch::default();
                batch.delete_range(&[super::DATA][..], &[super::DATA + 1][..]);
                batch.delete(CHECKPOINT_KEY);
                db.write(batch).map_err(db_error("clearing stale state"))?;
            }
            p.checkpoint = Checkpoint::default();
            stats.from_checkpoint = false;
        }
        if !matches!(p.backend, Backend::Rocks(_)) {
            return Ok(None);
        }
        Ok(Some(Restoration {
            partition,
            committed: committed.clone(),
            client: client.clone(),
            timeout,
            checkpoint: p.checkpoint.clone(),
            next_store: 0,
            replay: None,
            stats,
            started: Instant::now(),
            remaining,
        }))
    }

    /// Advances `job` for about `slice` (a changelog's client is made and
    /// its end read within the first slice that reaches it); returns its
    /// stats once the partition is restored and its checkpoint written.
    pub(crate) fn step_restore(
        &self,
        job: &mut Restoration,
        slice: Duration,
    ) -> Result<Option<RestoreStats>, RestoreError> {
        let until = Instant::now() + slice;
        let mut partitions = lock(&self.partitions);
        let Some(Backend::Rocks(db)) = partitions.get(&job.partition).map(|p| &p.backend) else {
            return Err(RestoreError::State(StateError::NoState));
        };
        loop {
            if job.replay.is_none() {
                let Some(topic) = self.changelogs.get(job.next_store) else {
                    break;
                };
                let start = job.checkpoint.changelogs.get(topic).copied().unwrap_or(0);
                match Replay::start(job, topic, job.next_store, start)? {
                    Some(mut replay) => {
                        replay.expiring = self.ttl(job.next_store).is_some();
                        job.replay = Some(replay);
                    }
                    None => {
                        job.checkpoint.changelogs.insert(topic.clone(), start);
                        job.next_store += 1;
                    }
                }
                continue;
            }
            let Some(replay) = job.replay.as_mut() else {
                continue;
            };
            match replay.step(db, &job.committed, &mut job.stats, until)? {
                Some(end) => {
                    job.checkpoint.changelogs.insert(replay.topic.clone(), end);
                    job.replay = None;
                    job.next_store += 1;
                }
                None => return Ok(None),
            }
        }
        for topic in &self.inputs {
            if let Some(next) = job.committed.get(topic) {
                job.checkpoint.inputs.insert(topic.clone(), *next);
            }
        }
        let mut batch = WriteBatch::default();
        batch.put(
            CHECKPOINT_KEY,
            serde_json::to_vec(&job.checkpoint).unwrap_or_default(),
        );
        db.write(batch)
            .map_err(db_error("writing the restored checkpoint"))?;
        if let Some(p) = partitions.get_mut(&job.partition) {
            p.checkpoint = job.checkpoint.clone();
        }
        job.stats.elapsed = job.started.elapsed();
        Ok(Some(job.stats.clone()))
    }
}

/// One changelog partition being replayed.
struct Replay {
    consumer: BaseConsumer,
    topic: String,
    partition: i32,
    store: usize,
    /// Whether the store's entries expire: each restored value is also
    /// indexed by its expiry time.
    expiring: bool,
    /// The high watermark seen at the start: the replay reads up to it.
    high: i64,
    next: i64,
    last_progress: Instant,
    /// How long the read may make no progress before it fails.
    timeout: Duration,
    last_log: Instant,
    /// Whether an open transaction holds the read back (logged once).
    waiting: bool,
    remaining: Remaining,
}

impl Replay {
    /// A replay of changelog `topic` from `start`, or `None` when there is
    /// nothing to read.
    fn start(job: &Restoration, topic: &str, store: usize, start: i64) -> Result<Option<Self>, RestoreError> {
        let partition = job.partition;
        let kafka = |source| RestoreError::Kafka {
            topic: topic.to_string(),
            partition,
            source,
        };
        let mut config = job.client.clone();
        config
            .set(
                "group.id",
                format!("meshkit-restore-{}", uuid::Uuid::new_v4().simple()),
            )
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("isolation.level", "read_committed");
        // The high watermark, not the last stable offset a read-committed
        // client would be told: the restore reads up to it.
        let (_, high) = config
            .clone()
            .set("isolation.level", "read_uncommitted")
            .create::<BaseConsumer>()
            .and_then(|c| c.fetch_watermarks(topic, partition, Duration::from_secs(10)))
            .map_err(kafka)?;
        if high <= start {
            return Ok(None);
        }
        let consumer: BaseConsumer = config.create().map_err(kafka)?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Offset(start))
            .map_err(kafka)?;
        consumer.assign(&tpl).map_err(kafka)?;
        tracing::info!(
            topic,
            partition,
            from = start,
            to = high,
            "restoring store from its changelog"
        );
        let mut remaining = Remaining {
            gauge: job.remaining.clone(),
            left: 0,
        };
        remaining.at(high - start);
        Ok(Some(Self {
            consumer,
            topic: topic.to_string(),
            partition,
            store,
            expiring: false,
            high,
            next: start,
            last_progress: Instant::now(),
            timeout: job.timeout,
            last_log: Instant::now(),
            waiting: false,
            remaining,
        }))
    }

    /// Applies records until `until`; returns the offset to continue from
    /// next time once the changelog is read to the high watermark.
    fn step(
        &mut self,
        db: &DB,
        committed: &HashMap<String, i64>,
        stats: &mut RestoreStats,
        until: Instant,
    ) -> Result<Option<i64>, RestoreError> {
        // Per slice: a write batch is not `Sync`, and the loop holding this
        // replay is shared across awaits.
        let mut batch = WriteBatch::default();
        // One key buffer per slice: the batch copies what it is given.
        let mut key = Vec::new();
        let done = loop {
            let wait = until.saturating_duration_since(Instant::now());
            match self.consumer.poll(wait.min(Duration::from_millis(200))) {
                Some(Ok(m)) => {
                    self.last_progress = Instant::now();
                    self.next = m.offset() + 1;
                    self.remaining.at(self.high - self.next);
                    if !written_by_committed_input(&m, committed) {
                        stats.skipped += 1;
                    } else {
                        let user_key = m.key().unwrap_or_default();
                        data_key_into(&mut key, self.store, user_key);
                        match m.payload() {
                            Some(v) => {
                                batch.put(&key, v);
                                if let Some((at, _)) = ttl::split(v).filter(|_| self.expiring) {
                                    data_key_into(
                                        &mut key,
                                        ttl::index_slot(self.store),
                                        &ttl::index_key(at, user_key),
                                    );
                                    batch.put(&key, []);
                                }
                            }
                            None => batch.delete(&key),
                        }
                        stats.restored += 1;
                        if batch.len() >= BATCH {
                            flush(db, &mut batch)?;
                        }
                    }
                    self.log_progress(stats);
                }
                // Not a guard: the polled message borrows the consumer.
                #[allow(clippy::collapsible_match)]
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    if self.at_end() {
                        break true;
                    }
                }
                Some(Err(err)) => {
                    return Err(RestoreError::Kafka {
                        topic: self.topic.clone(),
                        partition: self.partition,
                        source: err,
                    })
                }
                None if self.last_progress.elapsed() > self.timeout => {
                    return Err(RestoreError::Timeout {
                        topic: self.topic.clone(),
                        partition: self.partition,
                        timeout: self.timeout,
                        at: self.next,
                    })
                }
                None => {}
            }
            if Instant::now() >= until {
                break false;
            }
        };
        flush(db, &mut batch)?;
        if !done {
            return Ok(None);
        }
        tracing::info!(
            topic = %self.topic,
            partition = self.partition,
            restored = stats.restored,
            skipped = stats.skipped,
            "restored"
        );
        Ok(Some(self.next))
    }

    /// Whether the read reached the high watermark seen at the start, past
    /// the last record: trailing transaction markers count too. Read
    /// committed ends at the last stable offset: a transaction still open
    /// on the changelog (a fenced previous owner's, say) hides what was
    /// committed after it began; the replay waits until it ends.
    fn at_end(&mut self) -> bool {
        if let Ok(position) = self.consumer.position() {
            if let Some(Offset::Offset(o)) = position
                .find_partition(&self.topic, self.partition)
                .map(|e| e.offset())
            {
                self.next = self.next.max(o);
            }
        }
        if self.next >= self.high {
            return true;
        }
        if !self.waiting {
            tracing::info!(
                topic = %self.topic,
                partition = self.partition,
                at = self.next,
                to = self.high,
                "an open transaction on the changelog holds the restore back; waiting for it to end"
            );
            self.waiting = true;
        }
        false
    }

    fn log_progress(&mut self, stats: &RestoreStats) {
        if self.last_log.elapsed() > Duration::from_secs(5) {
            tracing::info!(
                topic = %self.topic,
                partition = self.partition,
                at = self.next,
                to = self.high,
                restored = stats.restored,
                "restoring"
            );
            self.last_log = Instant::now();
        }
    }
}

fn flush(db: &DB, batch: &mut WriteBatch) -> Result<(), StateError> {
    if batch.is_empty() {
        return Ok(());
    }
    db.write(std::mem::take(batch))
        .map_err(db_error("writing restored records"))
}

/// Whether changelog record `m` was written by an input record below the
/// group's committed offset (each carries its source in headers). On Apache
/// Kafka every record read at read_committed is; the check keeps the
/// restore exact on a broker that shows aborted writes.
fn written_by_committed_input(
    m: &rdkafka::message::BorrowedMessage<'_>,
    committed: &HashMap<String, i64>,
) -> bool {
    let Some(headers) = m.headers() else { return false };
    let (mut topic, mut offset) = (None, None);
    for header in headers.iter() {
        match header.key {
            SOURCE_TOPIC => topic = header.value.and_then(|v| std::str::from_utf8(v).ok()),
            SOURCE_OFFSET => {
                offset = header
                    .value
                    .and_then(|v| std::str::from_utf8(v).ok()?.parse::<i64>().ok())
            }
            _ => {}
        }
    }
    match (topic, offset) {
        // A timer's write has no input offset to compare: it is kept, as
        // any write read at read_committed is on Apache Kafka.
        (Some(TIMER_SOURCE), _) => true,
        (Some(topic), Some(offset)) => committed.get(topic).is_some_and(|c| offset < *c),
        _ => false,
    }
}

/// Adds its argument to a gauge of the changelog records the running
/// restores have left to read.
pub(crate) type RemainingGauge = std::sync::Arc<dyn Fn(i64) + Send + Sync>;

/// One replay's share of the remaining-records gauge, given back when it
/// ends (also when it fails or is dropped), so the gauge sums the running
/// restores.
struct Remaining {
    gauge: Option<RemainingGauge>,
    left: i64,
}

impl Remaining {
    fn at(&mut self, left: i64) {
        let left = left.max(0);
        if let Some(gauge) = &self.gauge {
            gauge(left - self.left);
        }
        self.left = left;
    }
}

impl Drop for Remaining {
    fn drop(&mut self) {
        self.at(0);
    }
}
