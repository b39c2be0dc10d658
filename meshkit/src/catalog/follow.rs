//! Following the catalog topic: a [`Catalog`] kept current in the
//! background, for a long-running reader such as `meshkit catalog serve`.
//!
//! A [`CatalogReader`] reads the topic once, to its end as of the read; a
//! page served from it per request would read the whole topic per request.
//! A [`CatalogFollower`] reads it once and then tails it, folding every new
//! record into its catalog, and hands out snapshots (an `Arc`, so a request
//! never waits for the follower nor the follower for a request). Like the
//! reader it assigns partitions and joins no consumer group.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::reader::{CatalogReadError, CatalogReader};
use super::record::Catalog;

/// How often the follower asks whether the topic exists or gained
/// partitions: a catalog topic is created by the first product to register.
const DESCRIBE_EVERY: Duration = Duration::from_secs(1);

/// The longest the follower waits for a record before publishing what it
/// folded so far: a page reloaded right after a product's stop shows it.
const POLL: Duration = Duration::from_millis(100);

/// What the follower has seen so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FollowStatus {
    /// Whether it has read every partition to the end it had when assigned.
    pub caught_up: bool,
    /// Whether the catalog topic exists (it does once a product registered).
    pub topic_exists: bool,
    /// Records folded in (tombstones and skipped ones included).
    pub records_read: u64,
    /// Records that were not catalog records and were skipped.
    pub skipped: u64,
    /// The latest error the client reported, if it has not read since.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
struct Shared {
    catalog: RwLock<Arc<Catalog>>,
    status: Mutex<FollowStatus>,
    changed: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut FollowStatus)) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut status);
        self.changed.notify_all();
    }

    fn publish(&self, catalog: &Catalog) {
        *self.catalog.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(catalog.clone());
    }
}

/// The catalog topic, followed in a background thread.
///
/// [`catalog`](Self::catalog) returns the catalog as folded so far; it
/// starts empty and is complete once [`wait_caught_up`](Self::wait_caught_up)
/// returns `true`. Records written later are folded in within about 100 ms
/// of their arrival. Dropping the follower stops its thread.
///
/// Instances that stopped heartbeating are not expired here (time passes
/// without records): a reader applies
/// [`Catalog::expire_stale`](super::Catalog::expire_stale) to its snapshot
/// when it shows it.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use meshkit::catalog::{CatalogFollower, CatalogReader, Timestamp};
/// use meshkit::Config;
///
/// let config = Config::builder().brokers("127.0.0.1:9092").build()?;
/// let follower = CatalogFollower::start(&CatalogReader::new(&config)?)?;
/// follower.wait_caught_up(Duration::from_secs(10));
/// let mut catalog = (*follower.catalog()).clone();
/// catalog.expire_stale(Timestamp::now());
/// for product in catalog.list() {
///     println!("{} {}", product.key(), product.status);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CatalogFollower {
    shared: Arc<Shared>,
    topic: String,
    brokers: String,
    thread: Option<JoinHandle<()>>,
}

impl CatalogFollower {
    /// Starts following the topic `reader` reads, with its brokers and
    /// Kafka properties.
    ///
    /// # Errors
    ///
    /// [`CatalogReadError::Client`] if the Kafka client cannot be created,
    /// or [`CatalogReadError::Thread`] if the follower's thread cannot start.
    /// Brokers that do not answer yet are no error: the follower keeps
    /// trying, and [`status`](Self::status) shows the client's last error.
    pub fn start(reader: &CatalogReader) -> Result<Self, CatalogReadError> {
        let consumer = reader.consumer()?;
        let shared = Arc::new(Shared::default());
        let mut tail = Tail {
            consumer,
            topic: reader.topic_name().to_string(),
            shared: shared.clone(),
            catalog: Catalog::new(),
            partitions: Vec::new(),
            ends: BTreeMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("meshkit-catalog-follower".into())
            .spawn(move || tail.run())
            .map_err(|source| CatalogReadError::Thread { source })?;
        Ok(Self {
            shared,
            topic: reader.topic_name().to_string(),
            brokers: reader.brokers().to_string(),
            thread: Some(thread),
        })
    }

    /// The catalog as folded so far.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.shared
            .catalog
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// What the follower has seen so far.
    pub fn status(&self) -> FollowStatus {
        self.shared
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the follower has read the topic to its end as of its
    /// start (or found that the topic does not exist yet), for at most
    /// `timeout`. Returns whether it has.
    pub fn wait_caught_up(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut status = self.shared.status.lock().unwrap_or_else(PoisonError::into_inner);
        while !status.caught_up {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            status = self
                .shared
                .changed
                .wait_timeout(status, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// The topic it follows.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The brokers it reads from.
    pub fn brokers(&self) -> &str {
        &self.brokers
    }
}

impl Drop for CatalogFollower {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread polls at most `POLL` at a time.
            let _ = thread.join();
        }
    }
}

/// The follower thread's state.
struct Tail {
    consumer: BaseConsumer,
    topic: String,
    shared: Arc<Shared>,
    catalog: Catalog,
    partitions: Vec<i32>,
    /// Partitions not yet read to the end they had when assigned.
    ends: BTreeMap<i32, i64>,
}

impl Tail {
    fn run(&mut self) {
        let mut next_describe = Instant::now();
        while !self.shared.stop.load(Ordering::Relaxed) {
            if Instant::now() >= next_describe {
                next_describe = Instant::now() + DESCRIBE_EVERY;
                if let Err(err) = self.describe() {
                    let message = crate::ErrorChain(&err).to_string();
                    tracing::debug!(topic = %self.topic, error = %message, "catalog follower: describing the topic");
                    self.shared.update(|s| s.last_error = Some(message));
                }
            }
            if self.partitions.is_empty() {
                std::thread::sleep(POLL);
                continue;
            }
            if self.poll_batch() {
                self.shared.publish(&self.catalog);
            }
            if self.ends.is_empty() {
                self.shared.update(|s| s.caught_up = true);
            }
        }
    }

    /// Looks the topic up; a new or grown topic is (re)assigned from the
    /// beginning of every partition and read again into a fresh catalog.
    fn describe(&mut self) -> Result<(), KafkaError> {
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), POLL * 20)?;
        let mut partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        partitions.sort_unstable();
        if partitions.is_empty() {
            // Not created yet: an empty catalog is the whole truth.
            self.shared.update(|s| {
                s.topic_exists = false;
                s.caught_up = true;
            });
            return Ok(());
        }
        if partitions == self.partitions {
            return Ok(());
        }
        let mut ends = BTreeMap::new();
        let mut assignment = TopicPartitionList::new();
        for &partition in &partitions {
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, partition, POLL * 20)?;
            if high > 0 {
                ends.insert(partition, high);
            }
            assignment.add_partition_offset(&self.topic, partition, Offset::Beginning)?;
        }
        self.consumer.assign(&assignment)?;
        self.catalog = Catalog::new();
        self.partitions = partitions;
        self.ends = ends;
        self.shared.publish(&self.catalog);
        self.shared.update(|s| {
            s.topic_exists = true;
            s.caught_up = self.ends.is_empty();
        });
        Ok(())
    }

    /// Folds the records that arrive within one poll (and those right
    /// behind them). Returns whether the catalog changed.
    fn poll_batch(&mut self) -> bool {
        let mut changed = false;
        let mut wait = POLL;
        while let Some(result) = self.consumer.poll(wait) {
            // After the first record, take only what is already there.
            wait = Duration::ZERO;
            match result {
                Ok(message) => {
                    let (partition, offset) = (message.partition(), message.offset());
                    let folded = match message.key() {
                        Some(key) => self
                            .catalog
                            .apply(key, message.payload())
                            .map_err(|e| e.to_string()),
                        None => Err("it has no key (expected `domain/name`)".to_string()),
                    };
                    if let Err(reason) = &folded {
                        tracing::warn!(topic = %self.topic, partition, offset, %reason, "catalog follower: skipping a record that cannot be decoded");
                    }
                    if self.ends.get(&partition).is_some_and(|end| offset + 1 >= *end) {
                        self.ends.remove(&partition);
                    }
                    changed |= folded.is_ok();
                    self.shared.update(|s| {
                        s.records_read += 1;
                        s.skipped += u64::from(folded.is_err());
                        s.last_error = None;
                    });
                }
                // Read committed: a partition ending in markers or an open
                // transaction reports that nothing more is readable.
                Err(KafkaError::PartitionEOF(partition)) => {
                    self.ends.remove(&partition);
                }
                Err(err) => {
                    let message = crate::ErrorChain(&err).to_string();
                    tracing::debug!(topic = %self.topic, error = %message, "catalog follower: consumer error");
                    self.shared.update(|s| s.last_error = Some(message));
                    break;
                }
            }
        }
        changed
    }
}

#[cfg(feature = "catalog-web")]
impl super::web::CatalogSource for CatalogFollower {
    fn snapshot(&self) -> Arc<Catalog> {
        self.catalog()
    }
}
