//! How a batch ends under [`Guarantee::AtLeastOnce`](crate::Guarantee): with
//! no Kafka transaction, in two steps, in this order:
//!
//! 1. the producer (idempotent, so that its own retries add no duplicates)
//!    is flushed: every output, dead letter and changelog record of the
//!    batch is acknowledged, and one that was not delivered fails the batch;
//! 2. only then are the group's offsets committed, synchronously: the next
//!    offset of each input partition, as a transaction would have sent them.
//!
//! A committed offset therefore never runs ahead of what its records wrote:
//! a crash loses nothing, it only processes again the records since the last
//! commit, whose outputs may already be written (duplicates). A batch that
//! fails is given up the same way: what it sent stays sent, its store writes
//! are dropped and its records are processed again. Stores stay exact even
//! so: a restore applies only changelog records whose input record is below
//! the group's committed offset, and the replay writes them again.
//!
//! Nothing here reaches the transactional calls (init, begin, send offsets,
//! commit, abort), their fencing or the recovery of a transaction the
//! coordinator refused: there is none to fence or recover.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::Producer;

use super::{lock, offsets_to_commit, Outcome, State, Txn};
use crate::runtime::Error;

/// How many times a commit of offsets that keeps failing while the brokers
/// answer is tried before the batch is processed again instead.
const COMMIT_ATTEMPTS: u32 = 5;

/// How committing the batch's offsets ended, when it did not stop the runtime.
enum OffsetCommit {
    Done,
    /// The group did not take them (it moved on in a rebalance, or kept
    /// failing): the batch is processed again.
    Refused,
}

impl Txn {
    /// Commits the open batch at least once: flushes the producer, then
    /// commits the input offsets. A failed delivery or a refused offset
    /// commit gives the batch up and says where to rewind.
    pub(super) fn commit_flushed<C: ConsumerContext>(
        &self,
        consumer: &impl Consumer<C>,
    ) -> Result<Outcome, Error> {
        let mut state = lock(&self.state);
        if !state.open {
            return Ok(Outcome::Nothing);
        }
        let started = Instant::now();
        let span = state.span.clone().unwrap_or_else(tracing::Span::none);
        let _entered = span.enter();
        if let Err(err) = self.flush_batch() {
            state.open = false;
            return Err(err);
        }
        let failed = self
            .delivered
            .failed
            .load(Ordering::Acquire)
            .saturating_sub(state.failed_at_begin);
        if failed > 0 {
            tracing::warn!(
                failed,
                "outputs of the batch were not delivered; processing its records again"
            );
            return Ok(self.aborted(&mut state));
        }
        match self.commit_offsets(consumer, &state) {
            Ok(OffsetCommit::Done) => self.committed(&mut state, started, &span),
            Ok(OffsetCommit::Refused) => Ok(self.aborted(&mut state)),
            Err(err) => {
                state.open = false;
                Err(err)
            }
        }
    }

    /// Gives the open batch up: what it sent stays sent (there is no
    /// transaction to abort), its store writes are dropped; says where to
    /// rewind.
    pub(super) fn give_up_batch(&self) -> Result<Outcome, Error> {
        let mut state = lock(&self.state);
        if !state.open {
            return Ok(Outcome::Nothing);
        }
        let span = state.span.clone().unwrap_or_else(tracing::Span::none);
        let _entered = span.enter();
        // The batch's delivery reports (a refusal to trace to its record,
        // the changelog's end) must not land in the next batch's accounts.
        self.settle(&self.producer(), &state);
        Ok(self.aborted(&mut state))
    }

    /// Waits until every record the producer holds is delivered or has
    /// failed. librdkafka's `message.timeout.ms` bounds the wait; meanwhile
    /// an outage is waited out with a back-off, as a transaction's commit is.
    fn flush_batch(&self) -> Result<(), Error> {
        let producer = self.producer();
        let mut attempts = 0;
        while let Err(err) = producer.flush(self.timeout) {
            attempts += 1;
            self.wait_to_retry("flushing the batch's outputs", err, attempts)?;
        }
        // An idempotent producer that can no longer keep its guarantee
        // (sequence numbers out of order) is fatal: stop rather than write
        // out of order; a restart processes the batch again.
        if let Some((code, reason)) = producer.client().fatal_error() {
            tracing::error!(%reason, "the idempotent producer failed for good");
            return Err(Error::kafka(
                "producing the batch's outputs",
                KafkaError::Global(code),
            ));
        }
        Ok(())
    }

    /// Commits the open batch's input offsets to the group, synchronously,
    /// retrying while the failure is one a retry can mend.
    fn commit_offsets<C: ConsumerContext>(
        &self,
        consumer: &impl Consumer<C>,
        state: &State,
    ) -> Result<OffsetCommit, Error> {
        let offsets = offsets_to_commit(state)?;
        if offsets.count() == 0 {
            return Ok(OffsetCommit::Done);
        }
        let mut attempts = 0;
        loop {
            let Err(err) = consumer.commit(&offsets, CommitMode::Sync) else {
                return Ok(OffsetCommit::Done);
            };
            // A static member replaced by another process with the same
            // instance id: that one owns the partitions now.
            if let Some((RDKafkaErrorCode::FencedInstanceId, _)) = consumer.client().fatal_error() {
                return Err(Error::Fenced {
                    transactional_id: self.transactional_id.clone(),
                });
            }
            if !commit_retriable(&err) || (attempts >= COMMIT_ATTEMPTS && !self.outage(state)) {
                tracing::warn!(
                    error = %crate::ErrorChain(&err),
                    "the group did not take the batch's offsets; processing its records again"
                );
                return Ok(OffsetCommit::Refused);
            }
            attempts += 1;
            self.wait_to_retry("committing the input offsets", err, attempts)?;
        }
    }
}

/// Whether an offset commit that failed with `err` may succeed if sent
/// again: the coordinator moving or loading, the brokers unreachable. A
/// rebalance or an expelled member (illegal generation, unknown member) is
/// not: the offsets are no longer this member's to commit.
fn commit_retriable(err: &KafkaError) -> bool {
    crate::kafka::kafka_retriable(err)
        || err.rdkafka_error_code() == Some(RDKafkaErrorCode::CoordinatorLoadInProgress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_a_retry_can_mend_are_retried() {
        for code in [
            RDKafkaErrorCode::CoordinatorLoadInProgress,
            RDKafkaErrorCode::NotCoordinator,
            RDKafkaErrorCode::RequestTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
        ] {
            assert!(commit_retriable(&KafkaError::ConsumerCommit(code)), "{code:?}");
        }
        for code in [
            RDKafkaErrorCode::RebalanceInProgress,
            RDKafkaErrorCode::IllegalGeneration,
            RDKafkaErrorCode::UnknownMemberId,
            RDKafkaErrorCode::FencedInstanceId,
        ] {
            assert!(!commit_retriable(&KafkaError::ConsumerCommit(code)), "{code:?}");
        }
    }
}
