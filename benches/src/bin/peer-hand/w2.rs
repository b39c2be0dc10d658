//! w2: a running sum per key in RocksDB, every update emitted.

use std::path::Path;

use crate::kafka::{Out, Workload};
use crate::store::{decode, Stores};

/// The sums, in store `sums`.
pub(crate) struct RunningSum {
    stores: Stores,
}

impl RunningSum {
    /// Sums kept under `state_dir`.
    pub(crate) fn new(state_dir: &Path) -> Self {
        Self {
            stores: Stores::new(state_dir),
        }
    }
}

impl Workload for RunningSum {
    fn process(
        &mut self,
        partition: i32,
        key: &[u8],
        value: &[u8],
        timestamp: i64,
        out: &mut Out<'_>,
    ) -> anyhow::Result<()> {
        let add = decode(value)?;
        let store = self.stores.partition(partition)?;
        let sum = store.update(key, |sum| sum.unwrap_or(0) + add)?;
        let bytes = sum.to_be_bytes();
        out.changelog(partition, key, Some(&bytes), timestamp)?;
        out.output(key, &bytes, timestamp)
    }

    fn persist(&mut self) -> anyhow::Result<()> {
        self.stores.persist()
    }
}
