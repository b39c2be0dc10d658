//! Sliding windows: a window of fixed size for every distinct set of
//! records of a key that are close in event time, kept in a store (so
//! exactly once, changelogged and restored like any other).
//!
//! The store keeps each key's records while a window may still hold them
//! and computes a window's value from them when it is asked for, so a
//! record arriving out of order lands in exactly the windows that contain
//! it.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::codec::encode_key;
use super::WindowUpdate;
use super::{StateError, Store};
use crate::window::{Window, Windows};

/// A store key. Variants sort in this order: the stream-time entry, then an
/// index of record times across keys (what closes and what is dropped as
/// stream time advances is read from it, a slice at a time), then each key's
/// records by time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SlidingKey<K> {
    StreamTime,
    At(i64, Option<K>),
    Records(K, i64),
}

/// A store value, by the key's variant: the records of a key at one time
/// are kept together, in arrival order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SlidingSlot<V> {
    StreamTime(i64),
    At,
    Records(Vec<V>),
}

/// A store of sliding windows per key, from
/// [`Context::sliding_store`](crate::Context::sliding_store).
///
/// With size `d`, the windows of a key are, for each of its records at time
/// `t`, the one ending at it (event times `t - d + 1 ..= t`) and the one
/// starting just after it (`t + 1 ..= t + d`) when that one holds a record:
/// every distinct set of records no more than `d - 1` ms apart, as Kafka
/// Streams' sliding windows. A window's value is its records combined by
/// the `reduce` function, in event-time order. A window closes when stream
/// time reaches its end plus the grace period; a record that no open window
/// can hold any more is late and changes nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::state::Windows;
/// use meshkit::{Context, ProductDescriptor};
///
/// let last_minute = Windows::sliding(Duration::from_secs(60));
/// let descriptor = ProductDescriptor::builder("payments", "bursts")
///     .version("1.0.0")
///     .owner("team-risk")
///     .input("payments", "payments.made")
///     .output("bursts", "payments.bursts")
///     .window_store("per_minute", last_minute)
///     .build()?;
/// let mut ctx = Context::with_memory_state(&descriptor);
/// let mut spend = ctx.sliding_store::<String, u64>("per_minute")?;
/// let card = "c-1".to_string();
/// let add = |a: u64, b: &u64| a + b;
/// spend.update(&card, 0, 30, add)?;
/// let update = spend.update(&card, 45_000, 20, add)?;
/// // The minute ending at the second payment holds both.
/// let window = meshkit::state::Window { start: -14_999, end: 45_001 };
/// assert!(update.updated.contains(&(window, 50)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SlidingStore<'a, K, V> {
    pub(crate) store: Store<'a, SlidingKey<K>, SlidingSlot<V>>,
    pub(crate) windows: Windows,
}

impl<K, V> std::fmt::Debug for SlidingStore<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlidingStore")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

/// A key's records in a time span, in event-time then arrival order.
type Records<V> = Vec<(i64, Vec<V>)>;

impl<K, V> SlidingStore<'_, K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// The store's windows.
    pub fn windows(&self) -> Windows {
        self.windows
    }

    fn size(&self) -> i64 {
        Windows::ms(self.windows.size).max(1)
    }

    fn grace(&self) -> i64 {
        Windows::ms(self.windows.grace)
    }

    /// The partition's stream time: the largest event time seen so far.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    pub fn stream_time(&self) -> Result<Option<i64>, StateError> {
        Ok(match self.store.get(&SlidingKey::StreamTime)? {
            Some(SlidingSlot::StreamTime(t)) => Some(t),
            _ => None,
        })
    }

    /// `key`'s records with event times in `from..=to`.
    fn records(&self, key: &K, from: i64, to: i64) -> Result<Records<V>, StateError> {
        let range = SlidingKey::Records(key.clone(), from)..=SlidingKey::Records(key.clone(), to);
        Ok(self
            .store
            .range(range)?
            .into_iter()
            .filter_map(|(k, slot)| match (k, slot) {
                (SlidingKey::Records(_, t), SlidingSlot::Records(values)) => Some((t, values)),
                _ => None,
            })
            .collect())
    }

    /// Adds a record of `key` at event time `timestamp` (ms) with `value`:
    /// stream time advances, and the windows that close are returned with
    /// their values. `reduce` combines the values of a window's records,
    /// oldest first (`reduce(acc, next)`).
    ///
    /// `updated` holds the open windows of `key` the record changed (those
    /// that contain it) or created (the one starting just after it, when
    /// later records exist), with their values.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    pub fn update(
        &mut self,
        key: &K,
        timestamp: i64,
        value: V,
        mut reduce: impl FnMut(V, &V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        let stream_time = before.max(timestamp);
        if stream_time != before {
            self.store
                .put(&SlidingKey::StreamTime, &SlidingSlot::StreamTime(stream_time))?;
        }
        let (size, grace) = (self.size(), self.grace());
        // The last window that can hold the record ends at `timestamp + size`.
        let late = timestamp.saturating_add(size).saturating_add(grace) <= stream_time;
        let mut update = WindowUpdate {
            late,
            updated: Vec::new(),
            closed: Vec::new(),
            merged: Vec::new(),
            stream_time,
            emit: self.windows.emit,
            key: key.clone(),
        };
        if !late {
            let slot = SlidingKey::Records(key.clone(), timestamp);
            let mut values = match self.store.get(&slot)? {
                Some(SlidingSlot::Records(values)) => values,
                _ => Vec::new(),
            };
            values.push(value);
            self.store.put(&slot, &SlidingSlot::Records(values))?;
            self.store
                .put(&SlidingKey::At(timestamp, Some(key.clone())), &SlidingSlot::At)?;
            // Every window the record is in or creates lies in this span.
            let near = self.records(
                key,
                timestamp.saturating_sub(size),
                timestamp.saturating_add(size),
            )?;
            let mut touched = BTreeSet::new();
            for (t, _) in &near {
                let (left, right) = (left_window(*t, size), right_window(*t, size));
                for w in [left, right] {
                    if w.start <= timestamp && timestamp < w.end {
                        touched.insert(w);
                    }
                }
            }
            touched.insert(right_window(timestamp, size));
            for w in touched {
                if w.end.saturating_add(grace) > stream_time {
                    if let Some(v) = reduce_in(&near, w, &mut reduce) {
                        update.updated.push((w, v));
                    }
                }
            }
        }
        update.closed = self.close(before, stream_time, &mut reduce)?;
        Ok(update)
    }

    /// Moves the partition's stream time on to `time` without a record (a
    /// wall-clock timer's tick for an idle partition) and closes the
    /// windows it passes, their values made with `reduce` as in
    /// [`update`](Self::update). Stream time never moves back.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    pub fn advance_to(
        &mut self,
        time: i64,
        mut reduce: impl FnMut(V, &V) -> V,
    ) -> Result<Vec<(Window, K, V)>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        if time <= before {
            return Ok(Vec::new());
        }
        self.store
            .put(&SlidingKey::StreamTime, &SlidingSlot::StreamTime(time))?;
        self.close(before, time, &mut reduce)
    }

    /// The record times (with their keys) in `from..to`, from the index.
    fn times(&self, from: i64, to: i64) -> Result<Vec<(i64, K)>, StateError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let range = SlidingKey::At(from, None)..SlidingKey::At(to, None);
        Ok(self
            .store
            .range(range)?
            .into_iter()
            .filter_map(|(k, _)| match k {
                SlidingKey::At(t, Some(key)) => Some((t, key)),
                _ => None,
            })
            .collect())
    }

    /// Closes the windows whose end plus grace stream time passed in moving
    /// from `before` to `stream_time`, and drops the records no open window
    /// holds any more. Windows are found from the record times that define
    /// them, read from the index a slice at a time: a window ending at `t + 1`
    /// (after record `t`) or at `t + 1 + size` (the one after record `t`).
    fn close(
        &mut self,
        before: i64,
        stream_time: i64,
        reduce: &mut impl FnMut(V, &V) -> V,
    ) -> Result<Vec<(Window, K, V)>, StateError> {
        if stream_time <= before {
            return Ok(Vec::new());
        }
        let (size, grace) = (self.size(), self.grace());
        // Window end `e` closes when `e + grace <= stream time`: the ends
        // closing now are in `(before - grace, stream_time - grace]`.
        let (lo, hi) = (
            before.saturating_sub(grace).saturating_add(1),
            stream_time.saturating_sub(grace).saturating_add(1),
        );
        // Keys need not be `Ord`: windows are told apart by encoded key.
        let mut due: BTreeSet<(Vec<u8>, Window)> = BTreeSet::new();
        let mut ordered = Vec::new();
        let lefts = self.times(lo.saturating_sub(1), hi.saturating_sub(1))?;
        let rights = self.times(
            lo.saturating_sub(1).saturating_sub(size),
            hi.saturating_sub(1).saturating_sub(size),
        )?;
        for (t, key) in lefts {
            ordered.push((key, left_window(t, size)));
        }
        for (t, key) in &rights {
            ordered.push((key.clone(), right_window(*t, size)));
        }
        let mut closed = Vec::new();
        for (key, w) in ordered {
            if !due.insert((encode_key(self.store.name(), &key)?, w)) {
                continue;
            }
            let records = self.records(&key, w.start, w.end - 1)?;
            if let Some(v) = reduce_in(&records, w, reduce) {
                closed.push((w, key, v));
            }
        }
        closed.sort_by_key(|(w, _, _)| (w.end, w.start));
        // A record at `t` is in no open window once `t + size + grace` has
        // passed, but it defines the window after it, which closes a
        // millisecond later: drop the records whose that window closed now.
        for (t, key) in rights {
            self.store.delete(&SlidingKey::Records(key.clone(), t))?;
            self.store.delete(&SlidingKey::At(t, Some(key)))?;
        }
        Ok(closed)
    }
}

/// The window ending at (and holding) a record at `t`.
fn left_window(t: i64, size: i64) -> Window {
    Window {
        start: t.saturating_sub(size).saturating_add(1),
        end: t.saturating_add(1),
    }
}

/// The window starting just after a record at `t`.
fn right_window(t: i64, size: i64) -> Window {
    Window {
        start: t.saturating_add(1),
        end: t.saturating_add(1).saturating_add(size),
    }
}

/// The value of window `w` over `records` (those of its key, in time
/// order), `None` if it holds none.
fn reduce_in<V: Clone>(records: &Records<V>, w: Window, reduce: &mut impl FnMut(V, &V) -> V) -> Option<V> {
    let mut acc: Option<V> = None;
    let inside = records.iter().filter(|(t, _)| w.start <= *t && *t < w.end);
    for v in inside.flat_map(|(_, values)| values) {
        acc = Some(match acc {
            None => v.clone(),
            Some(a) => reduce(a, v),
        });
    }
    acc
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::stores::tests::{context, numbers};

    /// Two keys, event times out of order by up to 4 s, some far behind;
    /// the values are distinct powers of two per record slot, so a window's
    /// sum says exactly which records it holds.
    fn events() -> Vec<(String, i64, u64)> {
        let mut next = numbers(11);
        (0..1_500)
            .map(|i: i64| {
                let key = format!("k{}", next(2));
                let base = i * 300;
                let ts = if i % 53 == 0 {
                    base - 30_000
                } else {
                    base - next(4_000) as i64
                };
                (key, ts, 1 + next(1_000))
            })
            .collect()
    }

    /// The independent computation, from the definition: a window exists
    /// for each accepted record's time (ending at it, and starting after it
    /// when it holds a record), and its final value sums the accepted
    /// records in it that arrived while it was open.
    fn expected(
        windows: Windows,
        events: &[(String, i64, u64)],
    ) -> (BTreeMap<(String, Window), u64>, Vec<bool>) {
        let size = windows.size.as_millis() as i64;
        let grace = windows.grace.as_millis() as i64;
        let mut stream_time = i64::MIN;
        // (key, time, value, stream time after it arrived)
        let mut accepted = Vec::new();
        let mut late = Vec::new();
        for (key, ts, v) in events {
            stream_time = stream_time.max(*ts);
            let is_late = ts + size + grace <= stream_time;
            late.push(is_late);
            if !is_late {
                accepted.push((key.clone(), *ts, *v, stream_time));
            }
        }
        let open_at = |w: &Window, st: i64| w.end + grace > st;
        let mut finals = BTreeMap::new();
        for (key, t, _, st) in &accepted {
            let left = Window {
                start: t - size + 1,
                end: t + 1,
            };
            let right = Window {
                start: t + 1,
                end: t + 1 + size,
            };
            for (w, created_by_this) in [(left, true), (right, false)] {
                // A left window exists if it was open when its record came; a
                // right one if some record in it came while it was open.
                let members: Vec<u64> = accepted
                    .iter()
                    .filter(|(k, x, _, xst)| k == key && w.start <= *x && *x < w.end && open_at(&w, *xst))
                    .map(|(_, _, v, _)| *v)
                    .collect();
                let exists = if created_by_this {
                    open_at(&w, *st)
                } else {
                    !members.is_empty()
                };
                if exists && !members.is_empty() {
                    finals.insert((key.clone(), w), members.iter().sum());
                }
            }
        }
        (finals, late)
    }

    #[test]
    fn sliding_windows_match_an_independent_computation() {
        let windows = Windows::sliding(Duration::from_secs(5)).grace(Duration::from_secs(2));
        let events = events();
        let (want, want_late) = expected(windows, &events);
        let mut ctx = context(windows);
        let mut store = ctx.sliding_store::<String, u64>("w").expect("store");
        let mut finals = BTreeMap::new();
        let mut latest = BTreeMap::new();
        for (i, (key, ts, v)) in events.iter().enumerate() {
            let update = store.update(key, *ts, *v, |a, b| a + b).expect("update");
            assert_eq!(update.late, want_late[i], "record {i} at {ts}: late?");
            for (w, k, v) in update.closed {
                assert!(finals.insert((k, w), v).is_none(), "window {w:?} closed twice");
            }
            for (w, v) in update.updated {
                latest.insert((key.clone(), w), v);
            }
        }
        let end = store.stream_time().expect("read").expect("some") + 3_600_000;
        for (w, k, v) in store.advance_to(end, |a, b| a + b).expect("advance") {
            assert!(finals.insert((k, w), v).is_none(), "window {w:?} closed twice");
        }
        assert_eq!(finals.len(), want.len(), "how many windows");
        assert_eq!(finals, want, "per-window sums");
        assert_eq!(latest, want, "latest emitted per window");
        let late = want_late.iter().filter(|l| **l).count();
        assert!(late >= 20, "the data has late records: {late}");
        // Everything closed: no record is kept.
        assert!(store
            .records(&"k0".to_string(), i64::MIN, i64::MAX)
            .expect("read")
            .is_empty());
    }

    #[test]
    fn a_window_per_distinct_set_of_records() {
        let windows = Windows::sliding(Duration::from_secs(10)).grace(Duration::from_secs(10));
        let mut ctx = context(windows);
        let mut store = ctx.sliding_store::<String, u64>("w").expect("store");
        let k = "k".to_string();
        store.update(&k, 8_000, 1, |a, b| a + b).expect("update");
        store.update(&k, 12_000, 2, |a, b| a + b).expect("update");
        // Out of order: the window ending at 8 s gains it, and so do the one
        // ending at 12 s; the window after it holds the records at 8 s and
        // 12 s.
        let update = store.update(&k, 5_000, 4, |a, b| a + b).expect("update");
        let w = |start, end| Window { start, end };
        assert_eq!(
            update.updated,
            vec![
                (w(-4_999, 5_001), 4),
                (w(-1_999, 8_001), 5),
                (w(2_001, 12_001), 7),
                (w(5_001, 15_001), 3)
            ]
        );
        // Ends up to 20 s close by 30 s (the window after 12 s holds nothing).
        let closed = store.advance_to(30_000, |a, b| a + b).expect("advance");
        let windows: Vec<(Window, u64)> = closed.into_iter().map(|(w, _, v)| (w, v)).collect();
        assert_eq!(
            windows,
            vec![
                (w(-4_999, 5_001), 4),
                (w(-1_999, 8_001), 5),
                (w(2_001, 12_001), 7),
                (w(5_001, 15_001), 3),
                (w(8_001, 18_001), 2),
            ]
        );
    }
}
