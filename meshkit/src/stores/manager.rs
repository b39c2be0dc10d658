//! The stores of one instance: a RocksDB database per assigned input
//! partition, the open transaction's overlay, checkpoints, and restore.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
#[cfg(feature = "avro")]
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rocksdb::{WriteBatch, DB};
use serde::{Deserialize, Serialize};

use serde::de::DeserializeOwned;

use super::{codec, ttl, StateError};
#[cfg(feature = "avro")]
use crate::schema::StoreValues;
use crate::timer::{Clock, Ttl};

mod restore;
pub(crate) use restore::{RemainingGauge, Restoration};

/// Headers every changelog record carries: the input record that wrote it.
pub(crate) const SOURCE_TOPIC: &str = "meshkit.source.topic";
pub(crate) const SOURCE_OFFSET: &str = "meshkit.source.offset";
pub(crate) use crate::timer::TIMER_SOURCE;

/// The longest an open waits for another processing thread of this process
/// to close a task's database (see [`StateManager::sibling`]).
const HANDOVER_WAIT: Duration = Duration::from_secs(30);

/// How often that open is tried again.
const HANDOVER_POLL: Duration = Duration::from_millis(20);

const DATA: u8 = 1;

/// [`StateManager::pinned_wall`] when the machine's clock is used.
const UNPINNED: i64 = i64::MIN;
const CHECKPOINT_KEY: &[u8] = b"\x00checkpoint";

/// Where a partition's local state stands: the input offsets its last write
/// batch committed, and how far its changelogs were read or written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Checkpoint {
    inputs: BTreeMap<String, i64>,
    changelogs: BTreeMap<String, i64>,
    /// The task's stream time when it committed (stores expiring on stream
    /// time read it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stream_time: Option<i64>,
}

enum Backend {
    Rocks(DB),
    /// For contexts made by hand (unit tests of transforms): nothing on disk.
    Memory(BTreeMap<Vec<u8>, Vec<u8>>),
}

struct Partition {
    backend: Backend,
    checkpoint: Checkpoint,
    /// The open transaction's writes (`None` = delete), by database key.
    overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// The largest record timestamp seen on the task.
    stream_time: Option<i64>,
    /// By store: when (on its TTL's clock) to look for expired entries next.
    next_expiry_check: HashMap<usize, i64>,
}

impl Partition {
    fn new(backend: Backend, checkpoint: Checkpoint) -> Self {
        Self {
            backend,
            stream_time: checkpoint.stream_time,
            checkpoint,
            overlay: BTreeMap::new(),
            next_expiry_check: HashMap::new(),
        }
    }
}

/// Raw store entries, key and value bytes, in key order.
pub(crate) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// One write to a store, to be produced to its changelog.
#[derive(Debug, Clone)]
pub(crate) struct ChangelogWrite {
    pub(crate) store: usize,
    pub(crate) partition: i32,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Option<Vec<u8>>,
}

/// What restoring one partition did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// The input partition.
    pub partition: i32,
    /// Changelog records applied to the local store.
    pub restored: u64,
    /// Changelog records skipped because the input that wrote them never
    /// committed (only on brokers that show aborted records).
    pub skipped: u64,
    /// Whether local state was found and used as the starting point.
    pub from_checkpoint: bool,
    /// How long it took.
    pub elapsed: Duration,
}

pub(crate) struct StateManager {
    dir: Option<PathBuf>,
    stores: Vec<String>,
    changelogs: Vec<String>,
    inputs: Vec<String>,
    partitions: Mutex<HashMap<i32, Partition>>,
    /// Whether writes go to changelogs (only under the runtime).
    changelogged: bool,
    /// Whether other managers of this process share the directory (one per
    /// processing thread), so that a database being opened may still be
    /// held by the thread that owned its task until the last rebalance.
    siblings: AtomicBool,
    /// By store: its entries' time to live, if they expire.
    ttls: Vec<Option<Ttl>>,
    /// Whether a store expires entries on stream time: only then is each
    /// task's stream time kept (a lock per record otherwise spent).
    stream_ttl: bool,
    /// By store: the schemas of its values, if they can evolve.
    #[cfg(feature = "avro")]
    values: Vec<Option<Arc<StoreValues>>>,
    /// The wall clock's time when a test driver holds it (ms), else
    /// `i64::MIN` for the machine's clock.
    pinned_wall: AtomicI64,
}

impl std::fmt::Debug for StateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateManager")
            .field("dir", &self.dir)
            .field("stores", &self.stores)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(feature = "avro")]
fn codec_error(store: &str, action: &'static str, message: String) -> StateError {
    StateError::Codec {
        store: store.to_string(),
        action,
        what: "value",
        message,
    }
}

fn db_error(operation: impl Into<String>) -> impl FnOnce(rocksdb::Error) -> StateError {
    let operation = operation.into();
    move |source| StateError::Db { operation, source }
}

fn data_key(store: usize, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    data_key_into(&mut out, store, key);
    out
}

/// [`data_key`] into `out`, replacing what it held.
fn data_key_into(out: &mut Vec<u8>, store: usize, key: &[u8]) {
    out.clear();
    out.push(DATA);
    // Store indexes are checked to fit in a byte when the product is declared.
    out.push(u8::try_from(store).unwrap_or(u8::MAX));
    out.extend_from_slice(key);
}

impl StateManager {
    /// Stores kept under `dir` (one subdirectory per partition).
    pub(crate) fn new(dir: PathBuf, application_id: &str, stores: Vec<String>, inputs: Vec<String>) -> Self {
        let changelogs = stores
            .iter()
            .map(|s| super::changelog_topic(application_id, s))
            .collect();
        Self {
            dir: Some(dir),
            stores,
            changelogs,
            inputs,
            partitions: Mutex::new(HashMap::new()),
            changelogged: true,
            siblings: AtomicBool::new(false),
            ttls: Vec::new(),
            stream_ttl: false,
            #[cfg(feature = "avro")]
            values: Vec::new(),
            pinned_wall: AtomicI64::new(UNPINNED),
        }
    }

    /// Another manager of the same stores under the same directory, for
    /// another processing thread: it opens only the partitions of the tasks
    /// its thread is assigned.
    pub(crate) fn sibling(&self) -> Self {
        self.siblings.store(true, Ordering::Release);
        Self {
            dir: self.dir.clone(),
            stores: self.stores.clone(),
            changelogs: self.changelogs.clone(),
            inputs: self.inputs.clone(),
            partitions: Mutex::new(HashMap::new()),
            changelogged: self.changelogged,
            siblings: AtomicBool::new(true),
            ttls: self.ttls.clone(),
            stream_ttl: self.stream_ttl,
            #[cfg(feature = "avro")]
            values: self.values.clone(),
            pinned_wall: AtomicI64::new(self.pinned_wall.load(Ordering::Acquire)),
        }
    }

    /// Stores under `dir` with no changelog, for [`super::LocalState`].
    pub(crate) fn local(dir: PathBuf, stores: Vec<String>) -> Self {
        Self {
            changelogged: false,
            ..Self::new(dir, "local", stores, Vec::new())
        }
    }

    pub(crate) fn changelogged(&self) -> bool {
        self.changelogged
    }

    /// The same manager, with each store's time to live (by index).
    pub(crate) fn with_ttls(mut self, ttls: Vec<Option<Ttl>>) -> Self {
        self.stream_ttl = ttls.iter().flatten().any(|t| t.clock == Clock::Stream);
        self.ttls = ttls;
        self
    }

    /// The same manager, with the schemas of each store's values (by
    /// index; `None` for a store whose values cannot evolve).
    #[cfg(feature = "avro")]
    pub(crate) fn with_values(mut self, values: Vec<Option<Arc<StoreValues>>>) -> Self {
        self.values = values;
        self
    }

    /// `value` encoded for store `store`: in the wire format with its
    /// schema id when its values have a schema, else compactly.
    pub(crate) fn encode_value<V: Serialize>(&self, store: usize, value: &V) -> Result<Vec<u8>, StateError> {
        #[cfg(feature = "avro")]
        if let Some(values) = self.values.get(store).and_then(Option::as_ref) {
            return values
                .encode(value)
                .map_err(|message| codec_error(&self.stores[store], "encode", message));
        }
        codec::encode_value(&self.stores[store], value)
    }

    /// A value of store `store`, decoded as [`encode_value`](Self::encode_value) wrote it.
    pub(crate) fn decode_value<V: DeserializeOwned>(
        &self,
        store: usize,
        bytes: &[u8],
    ) -> Result<V, StateError> {
        #[cfg(feature = "avro")]
        if let Some(values) = self.values.get(store).and_then(Option::as_ref) {
            return values
                .decode(bytes)
                .map_err(|message| codec_error(&self.stores[store], "decode", message));
        }
        codec::decode_value(&self.stores[store], bytes)
    }

    /// Store `store`'s time to live, if its entries expire.
    pub(crate) fn ttl(&self, store: usize) -> Option<Ttl> {
        self.ttls.get(store).copied().flatten()
    }

    /// Holds the wall clock at `at` ms (a test driver's clock), or gives it
    /// back to the machine (`None`).
    #[cfg(feature = "testing")]
    pub(crate) fn pin_wall_clock(&self, at: Option<i64>) {
        self.pinned_wall.store(at.unwrap_or(UNPINNED), Ordering::Release);
    }

    /// Notes a record's timestamp on `partition`'s task: its stream time is
    /// the largest seen.
    pub(crate) fn observe(&self, partition: i32, timestamp: i64) {
        if !self.stream_ttl {
            return;
        }
        if let Some(p) = lock(&self.partitions).get_mut(&partition) {
            p.stream_time = Some(p.stream_time.map_or(timestamp, |t| t.max(timestamp)));
        }
    }

    /// The time on `clock` for `partition`'s task: `None` on stream time
    /// before the task has seen a timestamp.
    pub(crate) fn now(&self, partition: i32, clock: Clock) -> Result<Option<i64>, StateError> {
        match clock {
            Clock::Wall => Ok(Some(self.wall_now())),
            _ => Ok(lock(&self.partitions)
                .get(&partition)
                .ok_or(StateError::NoState)?
                .stream_time),
        }
    }

    fn wall_now(&self) -> i64 {
        match self.pinned_wall.load(Ordering::Acquire) {
            UNPINNED => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            pinned => pinned,
        }
    }

    /// Removes the entries of `partition`'s expiring stores that are due,
    /// in the open transaction, adding their tombstones to `changelog`.
    /// Each store is looked at once per [`Ttl::check_every_ms`] of its
    /// clock; a look is one seek of its expiry index, and reads only the
    /// entries due. Returns how many entries it removed.
    pub(crate) fn expire_due(
        &self,
        partition: i32,
        changelog: &mut Vec<ChangelogWrite>,
    ) -> Result<usize, StateError> {
        let mut removed = 0;
        for (store, ttl) in self.ttls.iter().enumerate() {
            let Some(ttl) = ttl else { continue };
            let Some(now) = self.now(partition, ttl.clock)? else {
                continue;
            };
            {
                let mut partitions = lock(&self.partitions);
                let p = partitions.get_mut(&partition).ok_or(StateError::NoState)?;
                let next = p.next_expiry_check.entry(store).or_insert(i64::MIN);
                if now < *next {
                    continue;
                }
                *next = now.saturating_add(ttl.check_every_ms());
            }
            removed += self.expire_store(partition, store, now, changelog)?;
        }
        Ok(removed)
    }

    fn expire_store(
        &self,
        partition: i32,
        store: usize,
        now: i64,
        changelog: &mut Vec<ChangelogWrite>,
    ) -> Result<usize, StateError> {
        let slot = ttl::index_slot(store);
        let due = self.range(
            partition,
            slot,
            Bound::Unbounded,
            Bound::Excluded(ttl::index_end(now)),
        )?;
        let mut removed = 0;
        for (index_key, _) in due {
            self.put(partition, slot, &index_key, None)?;
            let Some((at, key)) = ttl::split(&index_key) else {
                continue;
            };
            let current = self.get(partition, store, key)?;
            // Written again since (a later expiry) or deleted: a stale entry.
            if current.as_deref().and_then(ttl::split).map(|(a, _)| a) != Some(at) {
                continue;
            }
            self.put(partition, store, key, None)?;
            if self.changelogged {
                changelog.push(ChangelogWrite {
                    store,
                    partition,
                    key: key.to_vec(),
                    value: None,
                });
            }
            removed += 1;
        }
        Ok(removed)
    }

    /// Stores in memory, partition 0 open: for contexts made by hand.
    pub(crate) fn in_memory(stores: Vec<String>) -> Self {
        let manager = Self {
            dir: None,
            changelogs: stores
                .iter()
                .map(|s| super::changelog_topic("memory", s))
                .collect(),
            stores,
            inputs: Vec::new(),
            partitions: Mutex::new(HashMap::new()),
            changelogged: false,
            siblings: AtomicBool::new(false),
            ttls: Vec::new(),
            stream_ttl: false,
            #[cfg(feature = "avro")]
            values: Vec::new(),
            pinned_wall: AtomicI64::new(UNPINNED),
        };
        lock(&manager.partitions).insert(
            0,
            Partition::new(Backend::Memory(BTreeMap::new()), Checkpoint::default()),
        );
        manager
    }

    pub(crate) fn is_memory(&self) -> bool {
        self.dir.is_none()
    }

    pub(crate) fn store_names(&self) -> &[String] {
        &self.stores
    }

    pub(crate) fn store_index(&self, name: &str) -> Result<usize, StateError> {
        self.stores
            .iter()
            .position(|s| s == name)
            .ok_or_else(|| StateError::UnknownStore {
                name: name.to_string(),
                known: self.stores.clone(),
            })
    }

    pub(crate) fn changelog(&self, store: usize) -> &str {
        &self.changelogs[store]
    }

    /// The input topics whose partition numbers are the store partitions.
    pub(crate) fn inputs(&self) -> &[String] {
        &self.inputs
    }

    pub(crate) fn changelogs(&self) -> &[String] {
        &self.changelogs
    }

    /// Reads `key` of `store` in `partition`, the open transaction's writes first.
    pub(crate) fn get(
        &self,
        partition: i32,
        store: usize,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        let db_key = data_key(store, key);
        let partitions = lock(&self.partitions);
        let p = partitions.get(&partition).ok_or(StateError::NoState)?;
        if let Some(pending) = p.overlay.get(&db_key) {
            return Ok(pending.clone());
        }
        match &p.backend {
            Backend::Rocks(db) => db.get(&db_key).map_err(db_error("get")),
            Backend::Memory(map) => Ok(map.get(&db_key).cloned()),
        }
    }

    /// Writes (`Some`) or deletes (`None`) `key` in the open transaction.
    pub(crate) fn put(
        &self,
        partition: i32,
        store: usize,
        key: &[u8],
        value: Option<Vec<u8>>,
    ) -> Result<(), StateError> {
        let mut partitions = lock(&self.partitions);
        let p = partitions.get_mut(&partition).ok_or(StateError::NoState)?;
        p.overlay.insert(data_key(store, key), value);
        Ok(())
    }

    /// Entries of `store` with keys in `(start, end)`, in key order, the open
    /// transaction's writes merged in. Keys are returned without their prefix.
    pub(crate) fn range(
        &self,
        partition: i32,
        store: usize,
        start: Bound<Vec<u8>>,
        end: Bound<Vec<u8>>,
    ) -> Result<Entries, StateError> {
        let prefix = data_key(store, &[]);
        let map_bound = |b: Bound<Vec<u8>>| match b {
            Bound::Included(k) => Bound::Included(data_key(store, &k)),
            Bound::Excluded(k) => Bound::Excluded(data_key(store, &k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let (start, end) = (map_bound(start), map_bound(end));
        let in_range = |k: &[u8]| {
            k.starts_with(&prefix)
                && match &start {
                    Bound::Included(s) => k >= s.as_slice(),
                    Bound::Excluded(s) => k > s.as_slice(),
                    Bound::Unbounded => true,
                }
                && match &end {
                    Bound::Included(e) => k <= e.as_slice(),
                    Bound::Excluded(e) => k < e.as_slice(),
                    Bound::Unbounded => true,
                }
        };
        let seek = match &start {
            Bound::Included(s) | Bound::Excluded(s) => s.clone(),
            Bound::Unbounded => prefix.clone(),
        };
        let partitions = lock(&self.partitions);
        let p = partitions.get(&partition).ok_or(StateError::NoState)?;
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        match &p.backend {
            Backend::Rocks(db) => {
                let iter = db.iterator(rocksdb::IteratorMode::From(&seek, rocksdb::Direction::Forward));
                for item in iter {
                    let (k, v) = item.map_err(db_error("range scan"))?;
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    if !in_range(&k) {
                        if matches!(&end, Bound::Included(e) | Bound::Excluded(e) if k.as_ref() > e.as_slice())
                        {
                            break;
                        }
                        continue;
                    }
                    merged.insert(k.into_vec(), v.into_vec());
                }
            }
            Backend::Memory(map) => {
                for (k, v) in map.range(seek.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    if in_range(k) {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for (k, v) in p.overlay.range(seek..) {
            if !k.starts_with(&prefix) {
                break;
            }
            if !in_range(k) {
                continue;
            }
            match v {
                Some(v) => merged.insert(k.clone(), v.clone()),
                None => merged.remove(k),
            };
        }
        Ok(merged
            .into_iter()
            .map(|(k, v)| (k[prefix.len()..].to_vec(), v))
            .collect())
    }

    /// The open transaction committed: applies each partition's overlay and
    /// its new checkpoint in one atomic write batch.
    pub(crate) fn persist(
        &self,
        committed: &HashMap<(String, i32), i64>,
        changelog_ends: &HashMap<(String, i32), i64>,
    ) -> Result<(), StateError> {
        let mut partitions = lock(&self.partitions);
        for (id, p) in partitions.iter_mut() {
            let mut checkpoint = p.checkpoint.clone();
            checkpoint.stream_time = p.stream_time;
            for ((topic, partition), next) in committed {
                if partition == id {
                    checkpoint.inputs.insert(topic.clone(), *next);
                }
            }
            for ((topic, partition), next) in changelog_ends {
                if partition == id {
                    checkpoint.changelogs.insert(topic.clone(), *next);
                }
            }
            if p.overlay.is_empty() && checkpoint == p.checkpoint {
                continue;
            }
            let overlay = std::mem::take(&mut p.overlay);
            match &mut p.backend {
                Backend::Rocks(db) => {
                    let mut batch = WriteBatch::default();
                    for (k, v) in &overlay {
                        match v {
                            Some(v) => batch.put(k, v),
                            None => batch.delete(k),
                        }
                    }
                    let encoded = serde_json::to_vec(&checkpoint).unwrap_or_default();
                    batch.put(CHECKPOINT_KEY, encoded);
                    db.write(batch)
                        .map_err(db_error(format!("writing partition {id}'s committed batch")))?;
                }
                Backend::Memory(map) => {
                    for (k, v) in overlay {
                        match v {
                            Some(v) => map.insert(k, v),
                            None => map.remove(&k),
                        };
                    }
                }
            }
            p.checkpoint = checkpoint;
        }
        Ok(())
    }

    /// The open transaction aborted: drops its writes.
    pub(crate) fn discard(&self) {
        for p in lock(&self.partitions).values_mut() {
            p.overlay.clear();
        }
    }

    /// Estimated keys and bytes of each open partition's database, from
    /// RocksDB's properties (cheap: no scan). Bytes are the live data in
    /// files plus the memtables, so that recent writes count before a flush.
    pub(crate) fn sizes(&self) -> Vec<(i32, u64, u64)> {
        let property = |db: &DB, name: &str| db.property_int_value(name).ok().flatten().unwrap_or(0);
        lock(&self.partitions)
            .iter()
            .map(|(id, p)| match &p.backend {
                Backend::Rocks(db) => (
                    *id,
                    property(db, "rocksdb.estimate-num-keys"),
                    property(db, "rocksdb.estimate-live-data-size")
                        + property(db, "rocksdb.cur-size-all-mem-tables"),
                ),
                Backend::Memory(map) => (
                    *id,
                    map.len() as u64,
                    map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum(),
                ),
            })
            .collect()
    }

    /// Closes the partitions not in `assigned`.
    pub(crate) fn retain(&self, assigned: &[i32]) {
        lock(&self.partitions).retain(|id, _| assigned.contains(id));
    }

    /// Opens `partition`'s local store, if not open.
    pub(crate) fn open_local(&self, partition: i32) -> Result<(), StateError> {
        let Some(root) = &self.dir else { return Ok(()) };
        let mut partitions = lock(&self.partitions);
        if partitions.contains_key(&partition) {
            return Ok(());
        }
        let path = root.join(format!("partition-{partition}"));
        std::fs::create_dir_all(&path).map_err(|source| StateError::Open {
            dir: path.clone(),
            source,
        })?;
        let db = self.open_db(&path)?;
        let checkpoint = match db
            .get(CHECKPOINT_KEY)
            .map_err(db_error("reading the checkpoint"))?
        {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => Checkpoint::default(),
        };
        partitions.insert(partition, Partition::new(Backend::Rocks(db), checkpoint));
        Ok(())
    }
}

impl StateManager {
    /// Opens the database at `path`. With sibling managers, the thread that
    /// owned the task before the last rebalance closes it at its next turn
    /// (the group revokes before it assigns, but each thread acts on it in
    /// its own loop): until then RocksDB refuses the open for its lock,
    /// and it is tried again.
    fn open_db(&self, path: &Path) -> Result<DB, StateError> {
        let started = Instant::now();
        loop {
            match DB::open_default(path) {
                Ok(db) => {
                    if started.elapsed() >= HANDOVER_POLL {
                        tracing::debug!(path = %path.display(), waited = ?started.elapsed(), "opened a task's database another processing thread held");
                    }
                    return Ok(db);
                }
                Err(err)
                    if self.siblings.load(Ordering::Acquire)
                        && err.kind() == rocksdb::ErrorKind::IOError
                        && err.as_ref().contains("LOCK")
                        && started.elapsed() < HANDOVER_WAIT =>
                {
                    std::thread::sleep(HANDOVER_POLL);
                }
                Err(err) => return Err(db_error(format!("opening {}", path.display()))(err)),
            }
        }
    }
}

/// Why a restore failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("reading changelog {topic}[{partition}]")]
    Kafka {
        topic: String,
        partition: i32,
        #[source]
        source: KafkaError,
    },
    #[error("reading changelog {topic}[{partition}]: no end reached within {timeout:?} (at offset {at})")]
    Timeout {
        topic: String,
        partition: i32,
        timeout: Duration,
        at: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Vec<u8> {
        k.as_bytes().to_vec()
    }

    #[test]
    fn writes_are_seen_at_once_kept_on_commit_and_dropped_on_abort() {
        let dir = tempfile::tempdir().expect("temp dir");
        let topics = vec!["in".to_string()];
        let manager = StateManager::new(dir.path().to_path_buf(), "app", vec!["s".into()], topics.clone());
        manager.open_local(0).expect("open");
        manager.put(0, 0, &key("a"), Some(b"1".to_vec())).expect("put");
        assert_eq!(
            manager.get(0, 0, &key("a")).expect("get"),
            Some(b"1".to_vec()),
            "the overlay is read"
        );
        manager.discard();
        assert_eq!(
            manager.get(0, 0, &key("a")).expect("get"),
            None,
            "an abort drops the write"
        );

        manager.put(0, 0, &key("a"), Some(b"2".to_vec())).expect("put");
        manager.put(0, 0, &key("b"), Some(b"3".to_vec())).expect("put");
        manager.put(0, 0, &key("b"), None).expect("delete");
        let committed = HashMap::from([(("in".to_string(), 0), 42)]);
        let ends = HashMap::from([(("app-s-changelog".to_string(), 0), 7)]);
        manager.persist(&committed, &ends).expect("persist");
        drop(manager);

        let reopened = StateManager::new(dir.path().to_path_buf(), "app", vec!["s".into()], topics);
        reopened.open_local(0).expect("reopen");
        assert_eq!(
            reopened.get(0, 0, &key("a")).expect("get"),
            Some(b"2".to_vec()),
            "a commit is durable"
        );
        assert_eq!(
            reopened.get(0, 0, &key("b")).expect("get"),
            None,
            "a delete is durable"
        );
        let partitions = lock(&reopened.partitions);
        let checkpoint = &partitions[&0].checkpoint;
        assert_eq!(checkpoint.inputs.get("in"), Some(&42));
        assert_eq!(checkpoint.changelogs.get("app-s-changelog"), Some(&7));
    }

    #[test]
    fn due_entries_expire_with_tombstones_and_rewritten_ones_stay() {
        use crate::stores::Store;
        let dir = tempfile::tempdir().expect("temp dir");
        let ttl = Ttl::new(Clock::Stream, Duration::from_millis(100));
        let open = || {
            let m = StateManager::new(
                dir.path().to_path_buf(),
                "app",
                vec!["s".into()],
                vec!["in".into()],
            )
            .with_ttls(vec![Some(ttl)]);
            m.open_local(0).expect("open");
            m
        };
        let manager = open();
        let mut changelog = Vec::new();
        fn store<'a>(
            manager: &'a StateManager,
            changelog: &'a mut Vec<ChangelogWrite>,
        ) -> Store<'a, String, u32> {
            Store {
                manager,
                changelog,
                partition: 0,
                index: 0,
                _types: std::marker::PhantomData,
            }
        }
        manager.observe(0, 1_000);
        store(&manager, &mut changelog).put(&"a".into(), &1).expect("put");
        store(&manager, &mut changelog).put(&"b".into(), &2).expect("put");
        assert_eq!(
            manager.expire_due(0, &mut changelog).expect("look"),
            0,
            "nothing due yet"
        );
        manager.observe(0, 1_050);
        store(&manager, &mut changelog)
            .put(&"b".into(), &3)
            .expect("rewrite");
        changelog.clear();

        manager.observe(0, 1_120);
        let a = store(&manager, &mut changelog).get(&"a".into()).expect("get");
        assert_eq!(a, None, "past its expiry, a reads as absent before any removal");
        assert_eq!(
            store(&manager, &mut changelog).range(..).expect("range"),
            vec![("b".to_string(), 3)]
        );
        // Each store is looked at once per check period of its clock: the
        // last look was at 1 000, the next is due at 1 006.
        assert_eq!(manager.expire_due(0, &mut changelog).expect("look"), 1);
        assert_eq!(changelog.len(), 1, "{changelog:?}");
        assert_eq!((changelog[0].value.as_ref(), changelog[0].partition), (None, 0));
        let a_key = super::super::codec::encode_key("s", &"a".to_string()).expect("key");
        assert_eq!(changelog[0].key, a_key, "the tombstone is a's");
        assert_eq!(manager.get(0, 0, &a_key).expect("raw"), None, "removed");
        manager
            .persist(&HashMap::new(), &HashMap::new())
            .expect("persist");
        drop(manager);

        let reopened = open();
        assert_eq!(
            reopened.now(0, Clock::Stream).expect("now"),
            Some(1_120),
            "stream time kept"
        );
        assert_eq!(reopened.get(0, 0, &a_key).expect("raw"), None);
        let b = store(&reopened, &mut changelog).get(&"b".into()).expect("get");
        assert_eq!(b, Some(3));
        let index = reopened
            .range(0, ttl::index_slot(0), Bound::Unbounded, Bound::Unbounded)
            .expect("index");
        assert_eq!(index.len(), 1, "only b's live index entry is left: {index:?}");
    }

    #[test]
    fn a_store_without_stream_time_refuses_a_write_on_stream_time() {
        use crate::stores::Store;
        let manager = StateManager::in_memory(vec!["s".into()])
            .with_ttls(vec![Some(Ttl::new(Clock::Stream, Duration::from_secs(1)))]);
        let mut changelog = Vec::new();
        let mut store = Store::<String, u32> {
            manager: &manager,
            changelog: &mut changelog,
            partition: 0,
            index: 0,
            _types: std::marker::PhantomData,
        };
        let err = store.put(&"a".into(), &1).expect_err("no stream time");
        assert!(err.to_string().contains("has seen no record timestamp"), "{err}");
    }

    #[test]
    fn a_sibling_opens_a_partition_once_its_owner_closed_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = StateManager::new(
            dir.path().to_path_buf(),
            "app",
            vec!["s".into()],
            vec!["in".into()],
        );
        let second = std::sync::Arc::new(first.sibling());
        first.open_local(3).expect("open");
        first.put(3, 0, &key("a"), Some(b"1".to_vec())).expect("put");
        first.persist(&HashMap::new(), &HashMap::new()).expect("persist");
        let opener = {
            let second = second.clone();
            std::thread::spawn(move || second.open_local(3))
        };
        std::thread::sleep(Duration::from_millis(200));
        assert!(!opener.is_finished(), "the owner still holds it");
        first.retain(&[]);
        opener
            .join()
            .expect("no panic")
            .expect("opened after the owner let go");
        assert_eq!(second.get(3, 0, &key("a")).expect("get"), Some(b"1".to_vec()));
    }

    #[test]
    fn range_merges_the_overlay_in_key_order_within_one_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let manager = StateManager::new(
            dir.path().to_path_buf(),
            "app",
            vec!["s".into(), "t".into()],
            vec![],
        );
        manager.open_local(0).expect("open");
        for k in ["a", "c", "e"] {
            manager
                .put(0, 0, &key(k), Some(k.as_bytes().to_vec()))
                .expect("put");
        }
        manager
            .put(0, 1, &key("b"), Some(b"other store".to_vec()))
            .expect("put");
        manager
            .persist(&HashMap::new(), &HashMap::new())
            .expect("persist");
        manager.put(0, 0, &key("b"), Some(b"b".to_vec())).expect("put");
        manager.put(0, 0, &key("c"), None).expect("delete");
        let all: Vec<Vec<u8>> = manager
            .range(0, 0, Bound::Unbounded, Bound::Unbounded)
            .expect("range")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(all, vec![key("a"), key("b"), key("e")]);
        let some: Vec<Vec<u8>> = manager
            .range(0, 0, Bound::Included(key("b")), Bound::Excluded(key("e")))
            .expect("range")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(some, vec![key("b")]);
    }
}
