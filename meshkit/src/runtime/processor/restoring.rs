//! Bringing the stores of newly assigned tasks up to date inside the poll
//! loop: their input partitions are paused, their changelogs replayed one
//! slice per loop turn, and each task's inputs resumed once its stores are
//! restored, while the consumer keeps polling and the tasks already
//! restored keep processing.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};

use super::super::txn::{RebalanceContext, Tp};
use super::super::Shared;
use super::Loop;
use crate::kafka::blocking;
use crate::runtime::Error;
use crate::stores::StateManager;

/// The longest one restore slice blocks the loop.
const SLICE: Duration = Duration::from_millis(50);

impl Loop<'_> {
    /// Whether the stores of `partition`'s task are being restored (its
    /// input records wait).
    pub(super) fn is_restoring(&self, partition: i32) -> bool {
        self.restoring.iter().any(|job| job.partition() == partition)
    }

    /// A record of a task being restored arrived (fetched before its pause
    /// took effect): it is not processed, and its partition is read again
    /// from it when the task resumes.
    pub(super) fn hold_back(&mut self, tp: Tp, offset: i64) {
        self.held_back.entry(tp).or_insert(offset);
    }

    /// Opens the stores of newly assigned tasks and starts restoring those
    /// behind the group's committed offsets (their input partitions paused
    /// meanwhile); closes those of tasks given up.
    pub(super) fn sync_state(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        shared: &Shared,
    ) -> Result<(), Error> {
        let Some(stores) = self.state.clone() else {
            return Ok(());
        };
        // Restores of the previous assignment end here; one started again
        // goes on from the store's checkpoint.
        self.restoring.clear();
        self.held_back.clear();
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
        let gauge = metrics.is_enabled().then(|| metrics.restore_remaining.clone());
        let mut paused = TopicPartitionList::new();
        for (partition, committed) in &by_partition {
            let job = blocking(|| {
                stores.begin_restore(
                    *partition,
                    &self.restore_client,
                    committed,
                    timeout,
                    gauge.clone(),
                )
            })
            .map_err(|err| Error::Restore {
                partition: *partition,
                message: err.to_string(),
            })?;
            if let Some(job) = job {
                // A task is partition n of every input (checked at each
                // assignment), so its partitions are named, not looked up.
                for topic in stores.inputs() {
                    paused.add_partition(topic, *partition);
                }
                self.restoring.push(job);
            }
        }
        if paused.count() > 0 {
            consumer
                .pause(&paused)
                .map_err(|e| Error::kafka("pausing the partitions of tasks being restored", e))?;
            tracing::info!(
                tasks = self.restoring.len(),
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
        let (Some(stores), Some(job)) = (self.state.clone(), self.restoring.first_mut()) else {
            return Ok(());
        };
        let partition = job.partition();
        let done = blocking(|| stores.step_restore(job, SLICE)).map_err(|err| Error::Restore {
            partition,
            message: err.to_string(),
        })?;
        let Some(stats) = done else { return Ok(()) };
        self.restoring.remove(0);
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
            metrics.restoring_partitions.set(self.restoring.len() as i64);
        }
        if self.restoring.is_empty() {
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
            if let Some(offset) = self.held_back.remove(&tp) {
                blocking(|| consumer.seek(topic, partition, Offset::Offset(offset), Duration::from_secs(10)))
                    .map_err(|e| Error::kafka("reading a held-back record again", e))?;
            }
            tpl.add_partition(topic, partition);
        }
        consumer
            .resume(&tpl)
            .map_err(|e| Error::kafka("resuming the partitions of a restored task", e))
    }
}
