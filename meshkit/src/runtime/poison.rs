//! The book of input records whose processing failed: how often, why, and
//! whether the open transaction dead-letters them. A failure aborts the
//! transaction and rewinds; the book is what the record meets when it comes
//! back.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::txn::Tp;
use crate::policy::ErrorPolicy;

/// A record whose processing failed, met again after the rewind.
#[derive(Debug)]
pub(crate) struct Poison {
    pub(crate) attempts: u32,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) retriable: bool,
    /// Written to the dead-letter topic in the open transaction. The entry is
    /// kept until that transaction commits: if it aborts, the rewind brings
    /// the record back, and it must be dead-lettered again, not retried.
    dead_lettered: bool,
}

/// What to do with a record, given its entry in the book.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Process,
    Retry(Duration),
    DeadLetter,
}

/// Failed records by partition and offset.
#[derive(Debug, Default)]
pub(crate) struct PoisonBook {
    entries: HashMap<Tp, BTreeMap<i64, Poison>>,
}

impl PoisonBook {
    /// The entry of the record at `offset` of `tp`, if it failed before.
    pub(crate) fn get(&self, tp: &Tp, offset: i64) -> Option<&Poison> {
        self.entries.get(tp).and_then(|entries| entries.get(&offset))
    }

    /// What `policy` says to do with the record at `offset` of `tp` now.
    pub(crate) fn verdict(&self, policy: &ErrorPolicy, tp: &Tp, offset: i64) -> Verdict {
        match self.get(tp, offset) {
            Some(p) => match policy {
                ErrorPolicy::Retry { attempts } if p.retriable && p.attempts <= *attempts => {
                    let backoff = 100u64.saturating_mul(1 << p.attempts.min(6)).min(5_000);
                    Verdict::Retry(Duration::from_millis(backoff))
                }
                _ => Verdict::DeadLetter,
            },
            None => Verdict::Process,
        }
    }

    /// Notes another failure of the record; returns its attempts so far.
    pub(crate) fn failed(
        &mut self,
        tp: &Tp,
        offset: i64,
        reason: &'static str,
        message: String,
        retriable: bool,
    ) -> u32 {
        let entries = self.entries.entry(tp.clone()).or_default();
        let attempts = entries.get(&offset).map_or(0, |p| p.attempts) + 1;
        entries.insert(
            offset,
            Poison {
                attempts,
                reason,
                message,
                retriable,
                dead_lettered: false,
            },
        );
        attempts
    }

    /// Notes that the open transaction dead-letters the record.
    pub(crate) fn dead_lettered(&mut self, tp: &Tp, offset: i64) {
        if let Some(p) = self
            .entries
            .get_mut(tp)
            .and_then(|entries| entries.get_mut(&offset))
        {
            p.dead_lettered = true;
        }
    }

    /// Forgets a record that passed: one that failed before and succeeded
    /// on a retry, or after the rewind of another record's failure. Kept, it
    /// would only grow the book and wait out its back-off after every rewind.
    pub(crate) fn passed(&mut self, tp: &Tp, offset: i64) {
        if let Some(entries) = self.entries.get_mut(tp) {
            entries.remove(&offset);
            if entries.is_empty() {
                self.entries.remove(tp);
            }
        }
    }

    /// The open transaction committed: its dead letters are final.
    pub(crate) fn committed(&mut self) {
        for entries in self.entries.values_mut() {
            entries.retain(|_, p| !p.dead_lettered);
        }
        self.entries.retain(|_, entries| !entries.is_empty());
    }

    /// The open transaction aborted: its dead letters are undone, and the
    /// rewind brings those records back to be dead-lettered again.
    pub(crate) fn aborted(&mut self) {
        for p in self.entries.values_mut().flat_map(BTreeMap::values_mut) {
            p.dead_lettered = false;
        }
    }

    /// Forgets everything: the assignment changed, and a partition given up
    /// and assigned again starts from its committed offset.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The records in the book.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> Tp {
        ("in".to_string(), 0)
    }

    #[test]
    fn a_record_that_passes_after_failing_leaves_the_book() {
        let mut book = PoisonBook::default();
        let retry = ErrorPolicy::Retry { attempts: 3 };
        assert_eq!(book.failed(&tp(), 7, "transform-error", "flaky".into(), true), 1);
        assert!(matches!(book.verdict(&retry, &tp(), 7), Verdict::Retry(_)));
        book.passed(&tp(), 7);
        assert_eq!(book.len(), 0);
        assert_eq!(book.verdict(&retry, &tp(), 7), Verdict::Process);
    }

    #[test]
    fn dead_letters_leave_the_book_when_their_transaction_commits() {
        let mut book = PoisonBook::default();
        let policy = ErrorPolicy::DeadLetter;
        book.failed(&tp(), 3, "transform-error", "bad".into(), false);
        assert_eq!(book.verdict(&policy, &tp(), 3), Verdict::DeadLetter);
        book.dead_lettered(&tp(), 3);
        // An abort brings it back: dead-lettered again, not retried.
        book.aborted();
        book.committed();
        assert_eq!(book.verdict(&policy, &tp(), 3), Verdict::DeadLetter);
        book.dead_lettered(&tp(), 3);
        book.committed();
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn retries_stop_after_the_policys_attempts() {
        let mut book = PoisonBook::default();
        let policy = ErrorPolicy::Retry { attempts: 2 };
        for _ in 0..2 {
            book.failed(&tp(), 1, "transform-error", "flaky".into(), true);
            assert!(matches!(book.verdict(&policy, &tp(), 1), Verdict::Retry(_)));
        }
        book.failed(&tp(), 1, "transform-error", "flaky".into(), true);
        assert_eq!(book.verdict(&policy, &tp(), 1), Verdict::DeadLetter);
    }
}
