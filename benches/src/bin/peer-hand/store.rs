//! One RocksDB per input partition, with the open batch's writes beside it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rocksdb::{Options, WriteBatch, WriteOptions, DB};

/// A partition's database and the writes of the open batch (`None`: a
/// delete), which reads see first and which reach the database only once
/// the batch is committed in Kafka.
pub(crate) struct Partition {
    pub(crate) db: DB,
    pub(crate) overlay: HashMap<Vec<u8>, Option<i64>>,
}

impl Partition {
    /// Sets `key` in the open batch, copying the key only when it is new
    /// to the batch.
    pub(crate) fn put(&mut self, key: &[u8], value: Option<i64>) {
        match self.overlay.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                self.overlay.insert(key.to_vec(), value);
            }
        }
    }

    /// Replaces the value of `key` by `f` of it, in one lookup when the
    /// open batch already has the key; returns the new value.
    pub(crate) fn update(&mut self, key: &[u8], f: impl FnOnce(Option<i64>) -> i64) -> anyhow::Result<i64> {
        if let Some(slot) = self.overlay.get_mut(key) {
            let value = f(*slot);
            *slot = Some(value);
            return Ok(value);
        }
        let stored = match self.db.get_pinned(key)? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        let value = f(stored);
        self.overlay.insert(key.to_vec(), Some(value));
        Ok(value)
    }
}

/// An 8-byte big-endian integer.
pub(crate) fn decode(bytes: &[u8]) -> anyhow::Result<i64> {
    let array: [u8; 8] = bytes
        .try_into()
        .with_context(|| format!("{} bytes where an 8-byte integer was expected", bytes.len()))?;
    Ok(i64::from_be_bytes(array))
}

/// The partitions' databases under one directory, opened on first use.
pub(crate) struct Stores {
    dir: PathBuf,
    partitions: Vec<Option<Partition>>,
    write: WriteOptions,
}

impl Stores {
    /// Stores under `dir` (`<dir>/<partition>`).
    pub(crate) fn new(dir: &Path) -> Self {
        let mut write = WriteOptions::default();
        // The changelog makes the state durable (as in Kafka Streams).
        write.disable_wal(true);
        Self {
            dir: dir.to_path_buf(),
            partitions: Vec::new(),
            write,
        }
    }

    /// Partition `partition`'s store, opened if it is not yet.
    pub(crate) fn partition(&mut self, partition: i32) -> anyhow::Result<&mut Partition> {
        let index = usize::try_from(partition)?;
        if self.partitions.len() <= index {
            self.partitions.resize_with(index + 1, || None);
        }
        let slot = &mut self.partitions[index];
        if slot.is_none() {
            let mut options = Options::default();
            options.create_if_missing(true);
            let path = self.dir.join(partition.to_string());
            let db = DB::open(&options, &path).with_context(|| format!("opening {}", path.display()))?;
            *slot = Some(Partition {
                db,
                overlay: HashMap::new(),
            });
        }
        slot.as_mut().context("a store just opened")
    }

    /// Writes each partition's open batch to its database, in one write
    /// batch each.
    pub(crate) fn persist(&mut self) -> anyhow::Result<()> {
        for partition in self.partitions.iter_mut().flatten() {
            if partition.overlay.is_empty() {
                continue;
            }
            let mut batch = WriteBatch::default();
            for (key, value) in partition.overlay.drain() {
                match value {
                    Some(value) => batch.put(&key, value.to_be_bytes()),
                    None => batch.delete(&key),
                }
            }
            partition.db.write_opt(batch, &self.write)?;
        }
        Ok(())
    }
}
