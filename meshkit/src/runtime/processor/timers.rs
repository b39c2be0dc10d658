//! The loop's timers: when each declared timer is next due, and firing one
//! for a task in the open transaction.

use std::collections::{BTreeSet, HashMap};

use rdkafka::consumer::{Consumer, StreamConsumer};

use super::{Loop, Transform};
use crate::error::ErrorChain;
use crate::policy::ErrorPolicy;
use crate::product::ProductDescriptor;
use crate::runtime::txn::RebalanceContext;
use crate::runtime::Error;
use crate::timer::{Clock, TIMER_SOURCE};

/// When the declared timers are next due.
pub(super) struct LoopTimers {
    /// Wall-clock timers: (index in the descriptor, next tick in ms).
    wall: Vec<(usize, i64)>,
    /// Stream-time timers' indexes in the descriptor.
    stream: Vec<usize>,
    /// By (stream timer, partition): its next tick in that task's stream time.
    stream_next: HashMap<(usize, i32), i64>,
    /// By partition: the task's stream time, the largest timestamp seen.
    stream_time: HashMap<i32, i64>,
    /// When stores expire entries on the wall clock: (next look at the
    /// idle tasks in ms, period).
    expiry: Option<(i64, i64)>,
}

impl LoopTimers {
    pub(super) fn new(descriptor: &ProductDescriptor, now: i64) -> Self {
        let mut wall = Vec::new();
        let mut stream = Vec::new();
        for (index, timer) in descriptor.timers.iter().enumerate() {
            match timer.clock {
                Clock::Wall => wall.push((index, timer.next_tick(now.saturating_add(1)))),
                Clock::Stream => stream.push(index),
            }
        }
        let expiry = (descriptor.stores.iter())
            .filter_map(|s| s.ttl.filter(|t| t.clock == Clock::Wall))
            .map(|t| t.check_every_ms())
            .min()
            .map(|every| (now.saturating_add(every), every));
        Self {
            wall,
            stream,
            stream_next: HashMap::new(),
            stream_time: HashMap::new(),
            expiry,
        }
    }

    /// The earliest tick a wall-clock timer (or a look for expired
    /// entries) waits for, in ms.
    pub(super) fn next_wall(&self) -> Option<i64> {
        let timers = self.wall.iter().map(|(_, next)| *next).min();
        match (timers, self.expiry) {
            (Some(t), Some((e, _))) => Some(t.min(e)),
            (t, e) => t.or(e.map(|(e, _)| e)),
        }
    }

    /// Whether idle tasks are due a look for expired entries at `now`
    /// (the next look is then a period later).
    fn take_due_expiry(&mut self, now: i64) -> bool {
        match &mut self.expiry {
            Some((next, every)) if *next <= now => {
                *next = now.saturating_add(*every);
                true
            }
            _ => false,
        }
    }

    /// The wall-clock timers due at `now`, with their ticks; each moves on
    /// to its first tick after `now` (ticks missed while the loop was busy
    /// fire once, not once each).
    fn take_due_wall(&mut self, descriptor: &ProductDescriptor, now: i64) -> Vec<(usize, i64)> {
        let mut due = Vec::new();
        for (index, next) in &mut self.wall {
            if *next <= now {
                let timer = &descriptor.timers[*index];
                let tick = now - now.rem_euclid(timer.every_ms());
                due.push((*index, tick));
                *next = tick.saturating_add(timer.every_ms());
            }
        }
        due
    }

    /// The stream-time timers due on `partition` after a record at
    /// `timestamp` there, with their ticks.
    fn take_due_stream(
        &mut self,
        descriptor: &ProductDescriptor,
        partition: i32,
        timestamp: i64,
    ) -> Vec<(usize, i64)> {
        let time = self.stream_time.entry(partition).or_insert(timestamp);
        *time = (*time).max(timestamp);
        let stream_time = *time;
        let mut due = Vec::new();
        for &index in &self.stream {
            let timer = &descriptor.timers[index];
            let every = timer.every_ms();
            // The task's first record sets its first tick: the next one after it.
            let next = self
                .stream_next
                .entry((index, partition))
                .or_insert_with(|| timer.next_tick(stream_time.saturating_add(1)));
            if *next <= stream_time {
                let tick = stream_time - stream_time.rem_euclid(every);
                due.push((index, tick));
                *next = tick.saturating_add(every);
            }
        }
        due
    }

    pub(super) fn has_stream(&self) -> bool {
        !self.stream.is_empty()
    }

    /// Forgets the stream time of tasks no longer owned.
    pub(super) fn retain_partitions(&mut self, owned: &BTreeSet<i32>) {
        self.stream_next
            .retain(|(_, partition), _| owned.contains(partition));
        self.stream_time.retain(|partition, _| owned.contains(partition));
    }
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The tokio instant at `at` ms since the Unix epoch.
pub(super) fn instant_at(at: i64) -> tokio::time::Instant {
    let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
    tokio::time::Instant::now() + std::time::Duration::from_millis(wait)
}

impl Loop<'_> {
    /// Fires the wall-clock timers that are due, for each task the instance
    /// owns and has restored, in the open transaction.
    pub(super) async fn fire_wall<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
    ) -> Result<(), Error> {
        let now = now_ms();
        let due = self.timers.take_due_wall(self.descriptor, now);
        let expiry = self.timers.take_due_expiry(now);
        if due.is_empty() && !expiry {
            return Ok(());
        }
        let tasks = self.owned_tasks(consumer);
        self.timers.retain_partitions(&tasks);
        for (timer, tick) in due {
            for &partition in &tasks {
                if !self.is_restoring(partition) {
                    self.fire(product, consumer, timer, partition, tick).await?;
                }
            }
        }
        if expiry {
            for &partition in &tasks {
                if !self.is_restoring(partition) {
                    self.expire_idle(consumer, partition, now).await?;
                }
            }
        }
        if self
            .txn
            .due(self.config.commit_interval, self.config.commit_records)
        {
            self.commit(consumer)?;
        }
        Ok(())
    }

    /// Fires the stream-time timers a record at `timestamp` on `partition`
    /// made due, after the record, in its transaction.
    pub(super) async fn fire_stream<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        partition: i32,
        timestamp: i64,
    ) -> Result<(), Error> {
        for (timer, tick) in self.timers.take_due_stream(self.descriptor, partition, timestamp) {
            self.fire(product, consumer, timer, partition, tick).await?;
        }
        Ok(())
    }

    /// Removes the expired entries of `partition`'s task, which may have no
    /// record to do it with: in the open transaction, opened only if there
    /// is something to remove (the look itself reads the expiry index).
    async fn expire_idle(
        &mut self,
        consumer: &StreamConsumer<RebalanceContext>,
        partition: i32,
        now: i64,
    ) -> Result<(), Error> {
        self.ctx.bind(partition, None);
        match self.expire_due() {
            Ok(0) => {
                // Nothing removed, nothing written: no transaction needed.
                self.ctx.discard();
                Ok(())
            }
            Ok(_) => {
                self.txn.begin()?;
                let source = (TIMER_SOURCE.to_string(), partition);
                if let Err(err) = self.produce_outputs(Some(now), &source, now).await {
                    return self
                        .replay_transaction(consumer, "an expired entry's tombstone", &err)
                        .await;
                }
                Ok(())
            }
            Err(err) => {
                self.ctx.discard();
                tracing::warn!(
                    partition, error = %ErrorChain(&err),
                    "removing expired entries failed; aborting the transaction, they are looked for again"
                );
                self.abort(consumer)
            }
        }
    }

    /// The partitions of the inputs assigned to this instance: its tasks.
    pub(super) fn owned_tasks(&self, consumer: &StreamConsumer<RebalanceContext>) -> BTreeSet<i32> {
        let Ok(assignment) = consumer.assignment() else {
            return BTreeSet::new();
        };
        assignment
            .elements()
            .iter()
            .filter(|e| self.descriptor.input_for_topic(e.topic()).is_some())
            .map(|e| e.partition())
            .collect()
    }

    /// Runs timer `timer` for the task of `partition` at `tick`, in the open
    /// transaction (opening one): its outputs and store writes go with it.
    async fn fire<P: Transform>(
        &mut self,
        product: &mut P,
        consumer: &StreamConsumer<RebalanceContext>,
        timer: usize,
        partition: i32,
        tick: i64,
    ) -> Result<(), Error> {
        let name = self.descriptor.timers[timer].name.as_str();
        self.txn.begin()?;
        self.ctx.bind(partition, Some(tick));
        let mut fired = product.timer(name, &mut self.ctx).await;
        if fired.is_ok() {
            fired = self.expire_due().map(drop);
        }
        match fired {
            Ok(()) => {
                if self.ctx.take_dead_letter().is_some() {
                    tracing::warn!(
                        timer = name,
                        partition,
                        "a timer has no record to dead-letter; ignored"
                    );
                }
                let source = (TIMER_SOURCE.to_string(), partition);
                if let Err(err) = self.produce_outputs(Some(tick), &source, tick).await {
                    return self.replay_transaction(consumer, "a timer's output", &err).await;
                }
                Ok(())
            }
            Err(err) => {
                self.ctx.discard();
                if self.config.error_policy == ErrorPolicy::Stop {
                    self.abort(consumer)?;
                    return Err(Error::Timer {
                        timer: name.to_string(),
                        partition,
                        source: err,
                    });
                }
                tracing::warn!(
                    timer = name, partition, error = %ErrorChain(&err),
                    "timer failed; aborting its transaction (its records are processed again), it fires again at its next tick"
                );
                self.abort(consumer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn descriptor() -> ProductDescriptor {
        ProductDescriptor::builder("t", "timers")
            .version("1.0.0")
            .owner("o")
            .input("in", "t.in")
            .output("out", "t.out")
            .timer("wall", Clock::Wall, Duration::from_secs(10))
            .timer("stream", Clock::Stream, Duration::from_secs(5))
            .build()
            .expect("valid")
    }

    #[test]
    fn wall_timers_fire_once_per_tick_and_missed_ticks_once() {
        let d = descriptor();
        let mut timers = LoopTimers::new(&d, 3_000);
        assert_eq!(timers.next_wall(), Some(10_000));
        assert!(timers.take_due_wall(&d, 9_999).is_empty());
        assert_eq!(timers.take_due_wall(&d, 10_000), [(0, 10_000)]);
        assert_eq!(timers.next_wall(), Some(20_000));
        // Three periods late: one firing, at the latest tick.
        assert_eq!(timers.take_due_wall(&d, 45_000), [(0, 40_000)]);
        assert_eq!(timers.next_wall(), Some(50_000));
    }

    #[test]
    fn stream_timers_follow_each_partitions_stream_time() {
        let d = descriptor();
        let mut timers = LoopTimers::new(&d, 0);
        assert!(timers.has_stream());
        assert!(timers.take_due_stream(&d, 0, 1_000).is_empty());
        assert!(timers.take_due_stream(&d, 0, 4_999).is_empty());
        assert_eq!(timers.take_due_stream(&d, 0, 5_000), [(1, 5_000)]);
        // Partition 1 has its own stream time.
        assert!(timers.take_due_stream(&d, 1, 7_000).is_empty());
        assert_eq!(timers.take_due_stream(&d, 0, 12_000), [(1, 10_000)]);
        // An older record does not move stream time back.
        assert!(timers.take_due_stream(&d, 0, 2_000).is_empty());
        assert!(timers.take_due_stream(&d, 0, 14_999).is_empty());
        timers.retain_partitions(&BTreeSet::from([0]));
        assert_eq!((timers.stream_next.len(), timers.stream_time.len()), (1, 1));
    }
}
