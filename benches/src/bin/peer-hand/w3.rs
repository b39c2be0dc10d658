//! w3: a count per key per one-minute tumbling window of event time, no
//! grace, each window's final count emitted once when it closes.
//!
//! The counts are kept in RocksDB under the window's start (8 bytes, big
//! endian, so that windows sort by start) then the key, so a window's counts
//! are one range scan. Each partition's stream time, and the starts of its
//! open windows, are kept in memory: the loop does not restore, so nothing
//! needs them back from the store.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use rocksdb::{Direction, IteratorMode};

use crate::kafka::{Out, Workload};
use crate::store::{decode, Partition, Stores};

/// The window's length, in ms.
const WINDOW_MS: i64 = 60_000;

/// A partition's stream time and open windows.
#[derive(Default)]
struct Clock {
    /// The largest timestamp seen on the partition.
    stream_time: i64,
    /// The starts of the windows with counts not yet emitted.
    open: BTreeSet<i64>,
}

/// The counts, in store `counts`.
pub(crate) struct WindowCount {
    stores: Stores,
    clocks: Vec<Clock>,
    /// The store key being built (start, then key), reused.
    key: Vec<u8>,
    /// An output key being built (`<key>@<start>`), reused.
    name: Vec<u8>,
}

impl WindowCount {
    /// Counts kept under `state_dir`.
    pub(crate) fn new(state_dir: &Path) -> Self {
        Self {
            stores: Stores::new(state_dir),
            clocks: Vec::new(),
            key: Vec::new(),
            name: Vec::new(),
        }
    }
}

impl Workload for WindowCount {
    fn process(
        &mut self,
        partition: i32,
        key: &[u8],
        _value: &[u8],
        timestamp: i64,
        out: &mut Out<'_>,
    ) -> anyhow::Result<()> {
        let index = usize::try_from(partition)?;
        if self.clocks.len() <= index {
            self.clocks.resize_with(index + 1, Clock::default);
        }
        let clock = &mut self.clocks[index];
        clock.stream_time = clock.stream_time.max(timestamp);
        let store = self.stores.partition(partition)?;
        let start = timestamp - timestamp.rem_euclid(WINDOW_MS);
        // No grace: a record of a window already closed is dropped.
        if start + WINDOW_MS > clock.stream_time {
            self.key.clear();
            self.key.extend_from_slice(&start.to_be_bytes());
            self.key.extend_from_slice(key);
            let count = store.update(&self.key, |count| count.unwrap_or(0) + 1)?;
            out.changelog(partition, &self.key, Some(&count.to_be_bytes()), timestamp)?;
            if clock.open.last() != Some(&start) {
                clock.open.insert(start);
            }
        }
        while let Some(&first) = clock.open.first() {
            if first + WINDOW_MS > clock.stream_time {
                break;
            }
            clock.open.remove(&first);
            close(store, partition, first, &mut self.name, out)?;
        }
        Ok(())
    }

    fn persist(&mut self) -> anyhow::Result<()> {
        self.stores.persist()
    }
}

/// Emits the final counts of the window starting at `start` and deletes
/// them from the store (and its changelog).
fn close(
    store: &mut Partition,
    partition: i32,
    start: i64,
    name: &mut Vec<u8>,
    out: &mut Out<'_>,
) -> anyhow::Result<()> {
    let prefix = start.to_be_bytes();
    // The window's counts: the database's, then the open batch's over them.
    let mut counts: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    for entry in store.db.iterator(IteratorMode::From(&prefix, Direction::Forward)) {
        let (key, value) = entry?;
        if !key.starts_with(&prefix) {
            break;
        }
        counts.insert(key.to_vec(), decode(&value)?);
    }
    for (key, value) in store.overlay.iter().filter(|(k, _)| k.starts_with(&prefix)) {
        match value {
            Some(count) => counts.insert(key.clone(), *count),
            None => counts.remove(key),
        };
    }
    let end = start + WINDOW_MS;
    for (key, count) in counts {
        name.clear();
        name.extend_from_slice(&key[prefix.len()..]);
        write!(name, "@{start}").context("naming a window")?;
        out.output(name, &count.to_be_bytes(), end)?;
        out.changelog(partition, &key, None, end)?;
        store.put(&key, None);
    }
    Ok(())
}
