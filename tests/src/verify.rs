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

/// Checks the committed outputs of the `totals` product against its inputs
/// `(key, id number)`: every id exactly once; per key, counts running
/// 1, 2, 3… with no gap or repeat, each sum the sum so far; the last one the
/// total computed independently from the input.
///
/// Returns the problems found (at most 20), empty when exact.
pub fn totals_exact(view: &CommittedView, inputs: impl IntoIterator<Item = (String, usize)>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expected: HashMap<String, (u64, u64)> = HashMap::new();
    let mut expected_ids: BTreeSet<usize> = BTreeSet::new();
    for (key, n) in inputs {
        let e = expected.entry(key).or_insert((0, 0));
        e.0 += 1;
        e.1 += n as u64;
        expected_ids.insert(n);
    }
    let mut seen: HashMap<String, Vec<(u64, u64)>> = HashMap::new();
    let mut ids: HashMap<usize, usize> = HashMap::new();
    for record in &view.committed {
        let key = record
            .key
            .as_ref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default();
        let value = record
            .value
            .as_ref()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let parts: Vec<&str> = value.split('|').collect();
        let parsed = match parts.as_slice() {
            [id, count, sum] => crate::product::id_number(id)
                .zip(count.parse::<u64>().ok())
                .zip(sum.parse::<u64>().ok()),
            _ => None,
        };
        let Some(((n, count), sum)) = parsed else {
            problems.push(format!("unreadable output `{value}`"));
            continue;
        };
        *ids.entry(n).or_insert(0) += 1;
        seen.entry(key).or_default().push((count, sum));
    }
    for (n, times) in &ids {
        if *times > 1 {
            problems.push(format!("id {n} output {times} times"));
        }
    }
    for n in &expected_ids {
        if !ids.contains_key(n) {
            problems.push(format!("id {n} has no output"));
        }
    }
    for (key, (count, sum)) in &expected {
        let mut outputs = seen.remove(key).unwrap_or_default();
        outputs.sort_unstable();
        let counts: Vec<u64> = outputs.iter().map(|(c, _)| *c).collect();
        if counts != (1..=*count).collect::<Vec<_>>() {
            let head: Vec<u64> = counts.iter().take(8).copied().collect();
            problems.push(format!(
                "key {key}: counts are not 1..={count} (got {} outputs, starting {head:?})",
                counts.len()
            ));
        } else if outputs.last().map(|(_, s)| *s) != Some(*sum) {
            problems.push(format!(
                "key {key}: final sum {:?}, expected {sum}",
                outputs.last()
            ));
        }
    }
    for key in seen.keys() {
        problems.push(format!("outputs for unexpected key {key}"));
    }
    problems.sort();
    problems.truncate(20);
    problems
}

/// Checks the committed outputs of the `totals` product run at least once
/// against its inputs `(key, id number)`: every id output at least once; per
/// key, the distinct counts run 1, 2, 3… with no gap, a count output twice
/// carries the same id and sum each time (the state behind a replayed
/// record was exact), and the highest count's sum is the total computed
/// independently from the input.
///
/// Returns the problems found (at most 20), empty when right, and how many
/// outputs were duplicates (at least once allows them).
pub fn totals_at_least_once(
    view: &CommittedView,
    inputs: impl IntoIterator<Item = (String, usize)>,
) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut expected: HashMap<String, (u64, u64)> = HashMap::new();
    let mut expected_ids: BTreeSet<usize> = BTreeSet::new();
    for (key, n) in inputs {
        let e = expected.entry(key).or_insert((0, 0));
        e.0 += 1;
        e.1 += n as u64;
        expected_ids.insert(n);
    }
    // Per key: count -> (id, sum) as first seen.
    let mut seen: HashMap<String, std::collections::BTreeMap<u64, (usize, u64)>> = HashMap::new();
    let mut ids: BTreeSet<usize> = BTreeSet::new();
    let mut duplicates = 0;
    for record in &view.committed {
        let key = record.key_str().unwrap_or_default();
        let value = record.value_str().unwrap_or_default();
        let parsed = match value.split('|').collect::<Vec<_>>().as_slice() {
            [id, count, sum] => crate::product::id_number(id)
                .zip(count.parse::<u64>().ok())
                .zip(sum.parse::<u64>().ok()),
            _ => None,
        };
        let Some(((n, count), sum)) = parsed else {
            problems.push(format!("unreadable output `{value}`"));
            continue;
        };
        ids.insert(n);
        let counts = seen.entry(key.clone()).or_default();
        match counts.get(&count) {
            None => {
                counts.insert(count, (n, sum));
            }
            Some(first) if *first == (n, sum) => duplicates += 1,
            Some(first) => problems.push(format!(
                "key {key}: count {count} output as {first:?} and as ({n}, {sum})"
            )),
        }
    }
    problems.extend(
        expected_ids
            .difference(&ids)
            .take(10)
            .map(|n| format!("id {n} has no output")),
    );
    problems.extend(
        ids.difference(&expected_ids)
            .take(10)
            .map(|n| format!("id {n} was not an input")),
    );
    for (key, (count, sum)) in &expected {
        let outputs = seen.remove(key).unwrap_or_default();
        let counts: Vec<u64> = outputs.keys().copied().collect();
        if counts != (1..=*count).collect::<Vec<_>>() {
            let head: Vec<u64> = counts.iter().take(8).copied().collect();
            problems.push(format!(
                "key {key}: distinct counts are not 1..={count} (got {}, starting {head:?})",
                counts.len()
            ));
        } else if outputs.values().next_back().map(|(_, s)| *s) != Some(*sum) {
            problems.push(format!(
                "key {key}: final sum {:?}, expected {sum}",
                outputs.values().next_back()
            ));
        }
    }
    for key in seen.keys() {
        problems.push(format!("outputs for unexpected key {key}"));
    }
    problems.sort();
    problems.truncate(20);
    (problems, duplicates)
}

/// The shape of each partition of `view`'s log, for a failed test to show
/// where records went: runs of consecutive records with one outcome
/// (committed, aborted, pending) and producer epoch, ABORT markers, and
/// COMMIT markers counted within committed runs, e.g.
/// `p2: 0..500 aborted (e0) | ABORT@500 (e0) | 501..7751 committed (e1, 15 commits)`.
pub fn log_shape(view: &CommittedView) -> String {
    #[derive(PartialEq, Clone, Copy)]
    enum Fate {
        Committed,
        Aborted,
        Pending,
    }
    let mut items: Vec<(i32, i64, Fate, i16)> = Vec::new();
    for (list, fate) in [
        (&view.committed, Fate::Committed),
        (&view.aborted, Fate::Aborted),
        (&view.pending, Fate::Pending),
    ] {
        items.extend(
            list.iter()
                .map(|r| (r.partition, r.offset, fate, r.producer_epoch)),
        );
    }
    items.sort_by_key(|(p, o, _, _)| (*p, *o));
    let mut out = String::new();
    let partitions: BTreeSet<i32> = items
        .iter()
        .map(|i| i.0)
        .chain(view.marker_log.iter().map(|m| m.partition))
        .collect();
    for partition in partitions {
        let mut parts: Vec<String> = Vec::new();
        let mut markers = view
            .marker_log
            .iter()
            .filter(|m| m.partition == partition)
            .peekable();
        let mut run: Option<(i64, i64, Fate, i16, usize)> = None;
        let flush = |run: &mut Option<(i64, i64, Fate, i16, usize)>, parts: &mut Vec<String>| {
            if let Some((from, to, fate, epoch, commits)) = run.take() {
                let fate = match fate {
                    Fate::Committed => "committed",
                    Fate::Aborted => "aborted",
                    Fate::Pending => "pending",
                };
                let commits = if commits > 0 {
                    format!(", {commits} commits")
                } else {
                    String::new()
                };
                parts.push(format!("{from}..{} {fate} (e{epoch}{commits})", to + 1));
            }
        };
        for (_, offset, fate, epoch) in items.iter().filter(|i| i.0 == partition) {
            while let Some(m) = markers.next_if(|m| m.offset < *offset) {
                match &mut run {
                    Some((_, _, Fate::Committed, _, commits)) if m.commit => *commits += 1,
                    _ => {
                        flush(&mut run, &mut parts);
                        let kind = if m.commit { "COMMIT" } else { "ABORT" };
                        parts.push(format!("{kind}@{} (e{})", m.offset, m.producer_epoch));
                    }
                }
            }
            match &mut run {
                Some((_, to, f, e, _)) if *f == *fate && *e == *epoch => *to = *offset,
                _ => {
                    flush(&mut run, &mut parts);
                    run = Some((*offset, *offset, *fate, *epoch, 0));
                }
            }
        }
        flush(&mut run, &mut parts);
        for m in markers {
            let kind = if m.commit { "COMMIT" } else { "ABORT" };
            parts.push(format!("{kind}@{} (e{})", m.offset, m.producer_epoch));
        }
        out.push_str(&format!("p{partition}: {}\n", parts.join(" | ")));
    }
    out
}

/// The ids of `0..n` with no committed output in `view` (of the `totals`
/// product, whose outputs are `<id>|<count>|<sum>`).
pub fn ids_without_output(view: &CommittedView, n: usize) -> BTreeSet<usize> {
    let seen: BTreeSet<usize> = view
        .committed
        .iter()
        .filter_map(|r| {
            let value = String::from_utf8_lossy(r.value.as_deref()?).into_owned();
            crate::product::id_number(value.split('|').next()?)
        })
        .collect();
    (0..n).filter(|i| !seen.contains(i)).collect()
}

/// Where the inputs whose ids are in `ids` sit in the input topic's `view`:
/// per partition, the ranges of their offsets, e.g. `p2: 0..500`.
pub fn input_ranges(view: &CommittedView, ids: &BTreeSet<usize>) -> String {
    let mut offsets: Vec<(i32, i64)> = view
        .committed
        .iter()
        .filter(|r| {
            r.value
                .as_ref()
                .and_then(|v| crate::product::id_number(&String::from_utf8_lossy(v)))
                .is_some_and(|n| ids.contains(&n))
        })
        .map(|r| (r.partition, r.offset))
        .collect();
    offsets.sort_unstable();
    let mut ranges: Vec<(i32, i64, i64)> = Vec::new();
    for (partition, offset) in offsets {
        match ranges.last_mut() {
            Some((p, _, to)) if *p == partition && *to == offset => *to = offset + 1,
            _ => ranges.push((partition, offset, offset + 1)),
        }
    }
    ranges
        .iter()
        .map(|(p, from, to)| format!("p{p}: {from}..{to}"))
        .collect::<Vec<_>>()
        .join(", ")
}
