//! Time windows on event time: tumbling and hopping, with a grace period for
//! late records, kept in a store (so exactly once, changelogged and restored like
//! any other).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{StateError, Store};
use crate::window::{Emit, Window, Windows};

/// A store entry: a window's value while open, or the partition's stream time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Slot<V> {
    Open(V),
    StreamTime(i64),
    /// A closed window's final value, kept for the store's retention.
    Closed(V),
}

/// Key of the stream-time entry: sorts before every window.
fn stream_time_key<K>() -> (i64, Option<K>) {
    (i64::MIN, None)
}

/// What one [`WindowStore::update`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUpdate<K, V> {
    /// The record fell only in windows already closed: it was not counted
    /// (dead-letter it, e.g. with [`Context::dead_letter`](crate::Context::dead_letter)).
    pub late: bool,
    /// The windows the record updated, with their new values.
    pub updated: Vec<(Window, V)>,
    /// Windows (of any key in this partition) that closed as stream time
    /// advanced, with their final values; they are removed from the store.
    pub closed: Vec<(Window, K, V)>,
    /// Sessions of the record's key that the record merged into the one in
    /// `updated` and that no longer exist (a
    /// [`SessionStore`](crate::state::SessionStore)'s only; empty for other
    /// windows). Under every-update emission, a consumer that keeps sessions
    /// by window should delete these.
    pub merged: Vec<Window>,
    /// Stream time after the record: the largest event time seen.
    pub stream_time: i64,
    /// The store's emit mode and the record's key, for `into_results`.
    pub(crate) emit: Emit,
    pub(crate) key: K,
}

impl<K, V> WindowUpdate<K, V> {
    /// What to publish under the store's own [`Emit`] mode, as
    /// `(window, key, value)`: the updated windows of the record's key on
    /// every update, or the windows that closed on close.
    pub fn into_results(self) -> Vec<(Window, K, V)>
    where
        K: Clone,
    {
        let (emit, key) = (self.emit, self.key.clone());
        self.results(emit, &key)
    }

    /// What to publish under the store's [`Emit`] mode, as `(window, key, value)`.
    pub fn results(self, emit: Emit, key: &K) -> Vec<(Window, K, V)>
    where
        K: Clone,
    {
        match emit {
            Emit::EveryUpdate => self
                .updated
                .into_iter()
                .map(|(w, v)| (w, key.clone(), v))
                .collect(),
            Emit::OnClose => self.closed,
        }
    }
}

/// A store of values per key and window, from
/// [`Context::window_store`](crate::Context::window_store).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::state::{Emit, Windows};
/// use meshkit::{Context, ProductDescriptor};
///
/// let minute = Windows::tumbling(Duration::from_secs(60)).grace(Duration::from_secs(5));
/// let descriptor = ProductDescriptor::builder("sales", "orders-per-minute")
///     .version("1.0.0")
///     .owner("team-sales")
///     .input("orders", "sales.orders")
///     .output("counts", "sales.orders-per-minute")
///     .window_store("per_minute", minute)
///     .build()?;
/// let mut ctx = Context::with_memory_state(&descriptor);
/// let mut counts = ctx.window_store::<String, u64>("per_minute")?;
/// let c = "c-1".to_string();
/// counts.update(&c, 1_000, |n| n.unwrap_or(0) + 1)?;
/// let update = counts.update(&c, 2_000, |n| n.unwrap_or(0) + 1)?;
/// assert_eq!(update.updated[0].1, 2);
/// // Stream time passes the window's end plus grace: it closes.
/// let update = counts.update(&c, 65_000, |n| n.unwrap_or(0) + 1)?;
/// assert_eq!(update.closed, vec![(update.closed[0].0, c.clone(), 2)]);
/// // A record for the closed window is late.
/// assert!(counts.update(&c, 3_000, |n| n.unwrap_or(0) + 1)?.late);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WindowStore<'a, K, V> {
    pub(crate) store: Store<'a, (i64, Option<K>), Slot<V>>,
    pub(crate) windows: Windows,
}

impl<K, V> std::fmt::Debug for WindowStore<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowStore")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl<K, V> WindowStore<'_, K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// The store's windows.
    pub fn windows(&self) -> Windows {
        self.windows
    }

    /// The partition's stream time: the largest event time seen so far.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    pub fn stream_time(&self) -> Result<Option<i64>, StateError> {
        Ok(match self.store.get(&stream_time_key())? {
            Some(Slot::StreamTime(t)) => Some(t),
            _ => None,
        })
    }

    /// The value of `key` in `window`, if the window has one and is open
    /// or closed less than the store's retention ago (its final value).
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    pub fn get(&self, key: &K, window: Window) -> Result<Option<V>, StateError> {
        Ok(match self.store.get(&(window.start, Some(key.clone())))? {
            Some(Slot::Open(v) | Slot::Closed(v)) => Some(v),
            _ => None,
        })
    }

    /// The windows of `key` that start in `from..to` and have a value (open,
    /// or closed and retained), oldest first: a look back at the previous
    /// windows' final values, say.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::state::Windows;
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// let minute = Windows::tumbling(Duration::from_secs(60)).retention(Duration::from_secs(3_600));
    /// let descriptor = ProductDescriptor::builder("sales", "per-minute")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .output("counts", "sales.counts")
    ///     .window_store("per_minute", minute)
    ///     .build()?;
    /// let mut ctx = Context::with_memory_state(&descriptor);
    /// let mut counts = ctx.window_store::<String, u64>("per_minute")?;
    /// let c = "c-1".to_string();
    /// counts.update(&c, 1_000, |n| n.unwrap_or(0) + 1)?;
    /// counts.update(&c, 61_000, |n| n.unwrap_or(0) + 1)?; // closes the first minute
    /// let last_hour = counts.fetch(&c, 0, 120_000)?;
    /// assert_eq!(last_hour.len(), 2, "the closed minute is retained");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fetch(&self, key: &K, from: i64, to: i64) -> Result<Vec<(Window, V)>, StateError>
    where
        K: PartialEq,
    {
        let size = Windows::ms(self.windows.size);
        let entries = self.store.range((from, None)..(to, None))?;
        Ok(entries
            .into_iter()
            .filter_map(|((start, k), slot)| match (k, slot) {
                (Some(k), Slot::Open(v) | Slot::Closed(v)) if k == *key => Some((
                    Window {
                        start,
                        end: start.saturating_add(size),
                    },
                    v,
                )),
                _ => None,
            })
            .collect())
    }

    /// Adds a record of `key` at event time `timestamp` (ms): applies `f` to
    /// the value of each open window that contains it, advances stream time,
    /// and closes (and removes) the windows that stream time has passed.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    pub fn update(
        &mut self,
        key: &K,
        timestamp: i64,
        mut f: impl FnMut(Option<V>) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        let stream_time = before.max(timestamp);
        if stream_time != before {
            self.store
                .put(&stream_time_key(), &Slot::StreamTime(stream_time))?;
        }
        let mut updated = Vec::new();
        let candidates = self.windows.windows_for(timestamp);
        let open: Vec<Window> = candidates
            .into_iter()
            .filter(|w| !self.windows.is_closed(*w, stream_time))
            .collect();
        let late = open.is_empty();
        for window in open {
            let k = (window.start, Some(key.clone()));
            let current = match self.store.get(&k)? {
                Some(Slot::Open(v)) => Some(v),
                _ => None,
            };
            let value = f(current);
            self.store.put(&k, &Slot::Open(value.clone()))?;
            updated.push((window, value));
        }
        let closed = self.close(before, stream_time)?;
        Ok(WindowUpdate {
            emit: self.windows.emit,
            key: key.clone(),
            late,
            updated,
            closed,
            merged: Vec::new(),
            stream_time,
        })
    }

    /// Moves the partition's stream time on to `time` without a record (a
    /// wall-clock timer's tick, say, for a partition where no record comes)
    /// and closes the windows it passes: their final values, removed from
    /// the store. Stream time never moves back; a `time` behind it closes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use meshkit::state::Windows;
    /// use meshkit::{Context, ProductDescriptor};
    ///
    /// let descriptor = ProductDescriptor::builder("sales", "per-minute")
    ///     .version("1.0.0")
    ///     .owner("team-sales")
    ///     .input("orders", "sales.orders")
    ///     .output("counts", "sales.counts")
    ///     .window_store("per_minute", Windows::tumbling(Duration::from_secs(60)))
    ///     .build()?;
    /// let mut ctx = Context::with_memory_state(&descriptor);
    /// let mut counts = ctx.window_store::<String, u64>("per_minute")?;
    /// counts.update(&"c-1".to_string(), 1_000, |n| n.unwrap_or(0) + 1)?;
    /// // No record comes: the tick closes the minute all the same.
    /// let closed = counts.advance_to(60_000)?;
    /// assert_eq!(closed.len(), 1);
    /// assert_eq!(counts.stream_time()?, Some(60_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn advance_to(&mut self, time: i64) -> Result<Vec<(Window, K, V)>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        if time <= before {
            return Ok(Vec::new());
        }
        self.store.put(&stream_time_key(), &Slot::StreamTime(time))?;
        self.close(before, time)
    }

    /// Closes the windows that stream time passed in moving from `before`
    /// to `stream_time` (returns them; keeps their final values for the
    /// retention, or removes them), and removes the retained ones whose
    /// retention ran out.
    fn close(&mut self, before: i64, stream_time: i64) -> Result<Vec<(Window, K, V)>, StateError> {
        let mut closed = Vec::new();
        let size = Windows::ms(self.windows.size);
        let close_lag = size.saturating_add(Windows::ms(self.windows.grace));
        let retention = Windows::ms(self.windows.retention);
        let Some(range) = self.passed(before, stream_time, close_lag) else {
            return Ok(closed);
        };
        for ((start, key), slot) in self.store.range(range)? {
            if let (Some(k), Slot::Open(v)) = (key.clone(), slot) {
                let window = Window {
                    start,
                    end: start + size,
                };
                if retention > 0 {
                    self.store.put(&(start, key), &Slot::Closed(v.clone()))?;
                } else {
                    self.store.delete(&(start, key))?;
                }
                closed.push((window, k, v));
            } else {
                self.store.delete(&(start, key))?;
            }
        }
        if retention > 0 {
            if let Some(range) = self.passed(before, stream_time, close_lag.saturating_add(retention)) {
                for ((start, key), _) in self.store.range(range)? {
                    self.store.delete(&(start, key))?;
                }
            }
        }
        Ok(closed)
    }

    /// The store keys of the windows whose start plus `lag` stream time
    /// passed in moving from `before` to `stream_time`, if there can be any.
    ///
    /// No window is ever opened once closed (nor kept once its retention
    /// ran out), so the store holds none that `before` had passed: the
    /// range starts after them. From the start of time, it would walk the
    /// deletion markers of every window ever closed, a cost per record
    /// that grew with history.
    fn passed(&self, before: i64, stream_time: i64, lag: i64) -> Option<std::ops::Range<(i64, Option<K>)>> {
        // Window starts are multiples of the advance: only when stream time
        // passes one's close can there be a window to close. Scanning on
        // every advance instead (every record, when event time grows record
        // by record) read the store's oldest entries once per record.
        let advance = Windows::ms(self.windows.advance).max(1);
        let slot = |t: i64| t.saturating_sub(lag).div_euclid(advance);
        if stream_time == before || slot(stream_time) == slot(before) {
            return None;
        }
        let last = stream_time.saturating_sub(lag);
        let first = before.saturating_sub(lag).saturating_add(1).max(i64::MIN + 1);
        // `(s + 1, None)` sorts after every `(s, Some(key))`, and `(s, None)`
        // before them.
        Some((first, None)..(last.saturating_add(1), None))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::stores::tests::{context, numbers};

    /// Event times out of order by up to 9 s, some far later than that.
    fn events() -> Vec<i64> {
        let mut next = numbers(42);
        (0..2_000)
            .map(|i| {
                let jitter = next(9_000);
                let base = i * 100 + 5_000;
                if i % 97 == 0 {
                    base - 40_000 // well past any grace
                } else {
                    base - jitter as i64
                }
            })
            .collect()
    }

    /// The independent computation: which records count in which window.
    fn expected(windows: Windows, events: &[i64]) -> (BTreeMap<i64, u64>, Vec<bool>) {
        let grace = windows.grace.as_millis() as i64;
        let mut stream_time = i64::MIN;
        let mut counts = BTreeMap::new();
        let mut late = Vec::new();
        for &ts in events {
            stream_time = stream_time.max(ts);
            let mut counted = false;
            for w in windows.windows_for(ts) {
                if w.end + grace > stream_time {
                    *counts.entry(w.start).or_insert(0) += 1;
                    counted = true;
                }
            }
            late.push(!counted);
        }
        (counts, late)
    }

    fn check(windows: Windows) {
        let events = events();
        let (want, want_late) = expected(windows, &events);
        let mut ctx = context(windows);
        let mut store = ctx.window_store::<String, u64>("w").expect("store");
        let key = "k".to_string();
        let mut finals = BTreeMap::new();
        let mut latest = BTreeMap::new();
        for (i, &ts) in events.iter().enumerate() {
            let update = store.update(&key, ts, |n| n.unwrap_or(0) + 1).expect("update");
            assert_eq!(update.late, want_late[i], "record {i} at {ts}: late?");
            for (w, _, v) in update.closed {
                assert!(finals.insert(w.start, v).is_none(), "window {w:?} closed twice");
            }
            for (w, v) in update.updated {
                latest.insert(w.start, v);
            }
        }
        // Windows still open at the end: their latest value is their result.
        for (start, v) in &latest {
            finals.entry(*start).or_insert(*v);
        }
        assert_eq!(finals, want, "per-window counts");
        assert!(
            want_late.iter().filter(|l| **l).count() >= 15,
            "the data has late records"
        );
    }

    #[test]
    fn tumbling_windows_match_an_independent_computation() {
        check(Windows::tumbling(Duration::from_secs(10)).grace(Duration::from_secs(2)));
    }

    #[test]
    fn hopping_windows_match_an_independent_computation() {
        check(
            Windows::hopping(Duration::from_secs(10), Duration::from_secs(5)).grace(Duration::from_secs(3)),
        );
    }

    #[test]
    fn closed_windows_stay_readable_for_the_retention_then_go() {
        let windows = Windows::tumbling(Duration::from_secs(10))
            .grace(Duration::from_secs(2))
            .retention(Duration::from_secs(30));
        let mut ctx = context(windows);
        let mut store = ctx.window_store::<String, u64>("w").expect("store");
        let k = "k".to_string();
        let first = Window {
            start: 0,
            end: 10_000,
        };
        store.update(&k, 1_000, |n| n.unwrap_or(0) + 1).expect("update");
        store.update(&k, 2_000, |n| n.unwrap_or(0) + 1).expect("update");
        let closed = store
            .update(&k, 12_000, |n| n.unwrap_or(0) + 1)
            .expect("update")
            .closed;
        assert_eq!(closed, vec![(first, k.clone(), 2)]);
        // Closed, not updated by a late record, still readable.
        assert!(
            store
                .update(&k, 3_000, |n| n.unwrap_or(0) + 1)
                .expect("update")
                .late
        );
        assert_eq!(store.get(&k, first).expect("read"), Some(2));
        assert_eq!(
            store.fetch(&k, 0, 20_000).expect("read"),
            vec![
                (first, 2),
                (
                    Window {
                        start: 10_000,
                        end: 20_000
                    },
                    1
                )
            ]
        );
        // End + grace + retention = 42 s: gone after, and it closes only once.
        let closed = store.advance_to(41_999).expect("advance");
        assert_eq!(closed.len(), 1, "the second window: {closed:?}");
        assert_eq!(store.get(&k, first).expect("read"), Some(2));
        assert!(store.advance_to(42_000).expect("advance").is_empty());
        assert_eq!(store.get(&k, first).expect("read"), None);
        assert_eq!(store.fetch(&k, 0, 10_000).expect("read"), vec![]);
    }

    #[test]
    fn windows_for_covers_negative_and_boundary_times() {
        let w = Windows::tumbling(Duration::from_secs(10));
        assert_eq!(
            w.windows_for(10_000),
            vec![Window {
                start: 10_000,
                end: 20_000
            }]
        );
        assert_eq!(
            w.windows_for(-1),
            vec![Window {
                start: -10_000,
                end: 0
            }]
        );
        let h = Windows::hopping(Duration::from_secs(10), Duration::from_secs(5));
        assert_eq!(
            h.windows_for(12_000),
            vec![
                Window {
                    start: 5_000,
                    end: 15_000
                },
                Window {
                    start: 10_000,
                    end: 20_000
                }
            ]
        );
        assert!(Windows::hopping(Duration::from_secs(5), Duration::from_secs(10))
            .check()
            .is_err());
    }
}
