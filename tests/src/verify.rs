//! Judging a run: exactly once, by the committed view.

use std::collections::{BTreeSet, HashMap};

use crate::oracle::CommittedView;

/// What the committed view of an output topic holds, against what it should.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Committed records.
    pub committed: usize,
    /// Values committed more than once, with their count (first 10).
    pub duplicates: Vec<(String, usize)>,
    /// Number of distinct values committed more than once.
    pub duplicate_count: usize,
    /// Expected values not committed (first 10).
    pub missing: Vec<String>,
    /// Number of expected values not committed.
    pub missing_count: usize,
    /// Committed values not expected (first 10).
    pub unexpected: Vec<String>,
}

impl Verdict {
    /// Whether every expected value was committed exactly once and nothing else.
    pub fn is_exactly_once(&self) -> bool {
        self.duplicate_count == 0 && self.missing_count == 0 && self.unexpected.is_empty()
    }
}

/// Compares the committed values of `view` with `expected`.
pub fn exactly_once(view: &CommittedView, expected: impl IntoIterator<Item = String>) -> Verdict {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for record in &view.committed {
        let value = record
            .value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        *counts.entry(value).or_insert(0) += 1;
    }
    let expected: BTreeSet<String> = expected.into_iter().collect();
    let mut duplicates: Vec<(String, usize)> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, n)| (v.clone(), *n))
        .collect();
    duplicates.sort();
    let missing: Vec<String> = expected
        .iter()
        .filter(|v| !counts.contains_key(*v))
        .cloned()
        .collect();
    let mut unexpected: Vec<String> = counts
        .keys()
        .filter(|v| !expected.contains(*v))
        .cloned()
        .collect();
    unexpected.sort();
    Verdict {
        committed: view.committed.len(),
        duplicate_count: duplicates.len(),
        duplicates: duplicates.into_iter().take(10).collect(),
        missing_count: missing.len(),
        missing: missing.into_iter().take(10).collect(),
        unexpected: unexpected.into_iter().take(10).collect(),
    }
}
