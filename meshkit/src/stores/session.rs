//! Session windows: per key, runs of records less than an inactivity gap
//! apart in event time, merged when a record bridges two of them; kept in a
//! store (so exactly once, changelogged and restored like any other).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::WindowUpdate;
use super::{StateError, Store};
use crate::window::{Window, Windows};

/// A store key. Variants sort in this order, so the stream-time entry comes
/// first, then the close index (by last record time, across keys: closing
/// reads only the sessions that close), then each key's sessions by their
/// last record time (finding a record's sessions reads only that key's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SessionKey<K> {
    StreamTime,
    Closing(i64, Option<K>),
    Session(K, i64),
}

/// A store value, by the key's variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum SessionSlot<V> {
    StreamTime(i64),
    Closing,
    Session { first: i64, value: V },
}

/// A store of session windows per key, from
/// [`Context::session_store`](crate::Context::session_store).
///
/// A record of a key joins the session it falls in or within the gap of, a
/// new session starts where there is none, and a record within the gap of
/// two sessions merges them (their values combined by the `merge` function
/// given to [`update`](Self::update)). A session closes when stream time
/// reaches its last record's time plus the gap plus the grace period; a
/// record whose session would already be closed is late and changes
/// nothing.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::state::Windows;
/// use meshkit::{Context, ProductDescriptor};
///
/// // Sessions end after a minute without a click; late clicks count for a minute more.
/// let visits = Windows::session(Duration::from_secs(60)).grace(Duration::from_secs(60));
/// let descriptor = ProductDescriptor::builder("web", "visits")
///     .version("1.0.0")
///     .owner("team-web")
///     .input("clicks", "web.clicks")
///     .output("visits", "web.visits")
///     .window_store("visits", visits)
///     .build()?;
/// let mut ctx = Context::with_memory_state(&descriptor);
/// let mut sessions = ctx.session_store::<String, u64>("visits")?;
/// let user = "u-1".to_string();
/// let count = |n: Option<u64>| n.unwrap_or(0) + 1;
/// let add = |a: u64, b: u64| a + b;
/// sessions.update(&user, 0, count, add)?;
/// sessions.update(&user, 100_000, count, add)?; // more than a gap later: a second session
/// assert_eq!(sessions.sessions(&user)?.len(), 2);
/// // A record within the gap of both merges them.
/// let update = sessions.update(&user, 50_000, count, add)?;
/// assert_eq!(update.merged.len(), 2);
/// let (window, clicks) = update.updated[0];
/// assert_eq!((window.start, window.end, clicks), (0, 100_001, 3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionStore<'a, K, V> {
    pub(crate) store: Store<'a, SessionKey<K>, SessionSlot<V>>,
    pub(crate) windows: Windows,
}

impl<K, V> std::fmt::Debug for SessionStore<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionStore")
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

/// One session as stored: first and last record times, and its value.
struct Session<V> {
    first: i64,
    last: i64,
    value: V,
}

impl<V> Session<V> {
    fn window(&self) -> Window {
        Window {
            start: self.first,
            end: self.last.saturating_add(1),
        }
    }
}

impl<K, V> SessionStore<'_, K, V>
where
    K: Serialize + DeserializeOwned + Clone,
    V: Serialize + DeserializeOwned + Clone,
{
    /// The store's windows (`size` is the inactivity gap).
    pub fn windows(&self) -> Windows {
        self.windows
    }

    fn gap(&self) -> i64 {
        Windows::ms(self.windows.size)
    }

    /// How far stream time runs past a session's last record before it closes.
    fn close_lag(&self) -> i64 {
        self.gap().saturating_add(Windows::ms(self.windows.grace))
    }

    /// The partition's stream time: the largest event time seen so far.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    pub fn stream_time(&self) -> Result<Option<i64>, StateError> {
        Ok(match self.store.get(&SessionKey::StreamTime)? {
            Some(SessionSlot::StreamTime(t)) => Some(t),
            _ => None,
        })
    }

    /// The open sessions of `key`, oldest first, with their values.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read.
    pub fn sessions(&self, key: &K) -> Result<Vec<(Window, V)>, StateError> {
        let found = self.sessions_from(key, i64::MIN, i64::MAX)?;
        Ok(found.into_iter().map(|s| (s.window(), s.value)).collect())
    }

    /// `key`'s sessions whose last record is at or after `from` and whose
    /// first is at or before `to`, oldest first.
    fn sessions_from(&self, key: &K, from: i64, to: i64) -> Result<Vec<Session<V>>, StateError> {
        let range = SessionKey::Session(key.clone(), from)..=SessionKey::Session(key.clone(), i64::MAX);
        let mut found = Vec::new();
        for (k, slot) in self.store.range(range)? {
            if let (SessionKey::Session(_, last), SessionSlot::Session { first, value }) = (k, slot) {
                // A key's sessions are disjoint, so ordered by last record
                // they are ordered by first too: none after this one starts
                // in reach.
                if first > to {
                    break;
                }
                found.push(Session { first, last, value });
            }
        }
        Ok(found)
    }

    /// Adds a record of `key` at event time `timestamp` (ms): the record
    /// joins (or starts) its session, merging the sessions it bridges, stream
    /// time advances, and the sessions it passes close.
    ///
    /// `f` folds the record into its session's value (`None` for a new
    /// session); `merge` combines the values of two sessions, the older one
    /// first, before the record is folded in.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    pub fn update(
        &mut self,
        key: &K,
        timestamp: i64,
        f: impl FnOnce(Option<V>) -> V,
        mut merge: impl FnMut(V, V) -> V,
    ) -> Result<WindowUpdate<K, V>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        let stream_time = before.max(timestamp);
        if stream_time != before {
            self.store
                .put(&SessionKey::StreamTime, &SessionSlot::StreamTime(stream_time))?;
        }
        let gap = self.gap();
        let touched =
            self.sessions_from(key, timestamp.saturating_sub(gap), timestamp.saturating_add(gap))?;
        let first = touched.iter().map(|s| s.first).fold(timestamp, i64::min);
        let last = touched.iter().map(|s| s.last).fold(timestamp, i64::max);
        let late = last.saturating_add(self.close_lag()) <= stream_time;
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
            let window = Window {
                start: first,
                end: last.saturating_add(1),
            };
            // A session ending where the merged one ends has its keys: they
            // are overwritten below, not deleted first (a record inside a
            // session, the usual case, writes one changelog record, not four).
            let mut index_kept = false;
            let mut combined: Option<V> = None;
            for old in touched {
                if old.last == last {
                    index_kept = true;
                } else {
                    self.remove(key, &old)?;
                }
                if old.window() != window {
                    update.merged.push(old.window());
                }
                combined = Some(match combined {
                    None => old.value,
                    Some(acc) => merge(acc, old.value),
                });
            }
            let value = f(combined);
            self.store.put(
                &SessionKey::Session(key.clone(), last),
                &SessionSlot::Session {
                    first,
                    value: value.clone(),
                },
            )?;
            if !index_kept {
                self.store.put(
                    &SessionKey::Closing(last, Some(key.clone())),
                    &SessionSlot::Closing,
                )?;
            }
            update.updated.push((window, value));
        }
        update.closed = self.close(before, stream_time)?;
        Ok(update)
    }

    fn remove(&mut self, key: &K, session: &Session<V>) -> Result<(), StateError> {
        self.store
            .delete(&SessionKey::Session(key.clone(), session.last))?;
        self.store
            .delete(&SessionKey::Closing(session.last, Some(key.clone())))
    }

    /// Moves the partition's stream time on to `time` without a record (a
    /// wall-clock timer's tick for an idle partition) and closes the
    /// sessions it passes: their final values, removed from the store.
    /// Stream time never moves back.
    ///
    /// # Errors
    ///
    /// [`StateError`] if the store cannot be read or written.
    pub fn advance_to(&mut self, time: i64) -> Result<Vec<(Window, K, V)>, StateError> {
        let before = self.stream_time()?.unwrap_or(i64::MIN);
        if time <= before {
            return Ok(Vec::new());
        }
        self.store
            .put(&SessionKey::StreamTime, &SessionSlot::StreamTime(time))?;
        self.close(before, time)
    }

    /// Closes (returns and removes) the sessions that stream time passed in
    /// moving from `before` to `stream_time`: those whose last record plus
    /// the close lag falls in between. Those `before` had passed are gone
    /// already (and a late record opens none), so the scan reads only the
    /// sessions that close, however long the history.
    fn close(&mut self, before: i64, stream_time: i64) -> Result<Vec<(Window, K, V)>, StateError> {
        if stream_time <= before {
            return Ok(Vec::new());
        }
        let lag = self.close_lag();
        let from = before.saturating_sub(lag).saturating_add(1);
        let to = stream_time.saturating_sub(lag).saturating_add(1);
        let due = self
            .store
            .range(SessionKey::Closing(from, None)..SessionKey::Closing(to, None))?;
        let mut closed = Vec::with_capacity(due.len());
        for (k, _) in due {
            let SessionKey::Closing(last, Some(key)) = k else {
                continue;
            };
            let entry = self.store.get(&SessionKey::Session(key.clone(), last))?;
            if let Some(SessionSlot::Session { first, value }) = entry {
                let session = Session { first, last, value };
                self.remove(&key, &session)?;
                closed.push((session.window(), key, session.value));
            }
        }
        Ok(closed)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::stores::tests::{context, numbers};
    use crate::window::Emit;

    /// Three keys, bursts of activity with pauses longer and shorter than
    /// the gap, out of order by up to 9 s, some records far behind.
    fn events() -> Vec<(String, i64)> {
        let mut next = numbers(7);
        let mut time = 0i64;
        (0..3_000)
            .map(|i| {
                // Mostly small steps, now and then a pause beyond the gap.
                time += if next(20) == 0 {
                    12_000 + next(8_000) as i64
                } else {
                    next(900) as i64
                };
                let key = format!("k{}", next(3));
                let ts = if i % 89 == 0 {
                    time - 60_000
                } else {
                    time - next(9_000) as i64
                };
                (key, ts)
            })
            .collect()
    }

    /// The independent computation: sessions as plain lists per key, the
    /// same rules applied record by record, no store, no index.
    fn expected(windows: Windows, events: &[(String, i64)]) -> (BTreeMap<(String, Window), u64>, Vec<bool>) {
        let gap = windows.size.as_millis() as i64;
        let lag = gap + windows.grace.as_millis() as i64;
        let mut stream_time = i64::MIN;
        let mut open: BTreeMap<String, Vec<(i64, i64, u64)>> = BTreeMap::new();
        let mut finals = BTreeMap::new();
        let mut late = Vec::new();
        for (key, ts) in events {
            stream_time = stream_time.max(*ts);
            let sessions = open.entry(key.clone()).or_default();
            let (near, far): (Vec<(i64, i64, u64)>, Vec<_>) = std::mem::take(sessions)
                .into_iter()
                .partition(|(first, last, _)| *last >= ts - gap && *first <= ts + gap);
            let first = near.iter().map(|s| s.0).fold(*ts, i64::min);
            let last = near.iter().map(|s| s.1).fold(*ts, i64::max);
            if last + lag <= stream_time {
                late.push(true);
                *sessions = near.into_iter().chain(far).collect();
            } else {
                late.push(false);
                let count = near.iter().map(|s| s.2).sum::<u64>() + 1;
                *sessions = far;
                sessions.push((first, last, count));
            }
            for (k, sessions) in &mut open {
                sessions.retain(|(first, last, count)| {
                    let closed = last + lag <= stream_time;
                    if closed {
                        finals.insert(
                            (
                                k.clone(),
                                Window {
                                    start: *first,
                                    end: last + 1,
                                },
                            ),
                            *count,
                        );
                    }
                    !closed
                });
            }
        }
        for (k, sessions) in open {
            for (first, last, count) in sessions {
                finals.insert(
                    (
                        k.clone(),
                        Window {
                            start: first,
                            end: last + 1,
                        },
                    ),
                    count,
                );
            }
        }
        (finals, late)
    }

    fn run(windows: Windows) {
        let events = events();
        let (want, want_late) = expected(windows, &events);
        let mut ctx = context(windows);
        let mut store = ctx.session_store::<String, u64>("w").expect("store");
        let mut finals = BTreeMap::new();
        let mut latest: BTreeMap<(String, Window), u64> = BTreeMap::new();
        let mut merges = 0;
        for (i, (key, ts)) in events.iter().enumerate() {
            let update = store
                .update(key, *ts, |n| n.unwrap_or(0) + 1, |a, b| a + b)
                .expect("update");
            assert_eq!(update.late, want_late[i], "record {i} of {key} at {ts}: late?");
            for (w, k, v) in update.closed {
                assert!(finals.insert((k, w), v).is_none(), "session {w:?} closed twice");
            }
            merges += update.merged.len();
            for w in update.merged {
                assert!(
                    latest.remove(&(key.clone(), w)).is_some(),
                    "merged {w:?} was never emitted"
                );
            }
            for (w, v) in update.updated {
                latest.insert((key.clone(), w), v);
            }
        }
        for (session, v) in store.sessions_of_all(&["k0", "k1", "k2"]) {
            assert!(finals.insert(session, v).is_none(), "an open session also closed");
        }
        assert_eq!(finals, want, "per-session counts");
        // Every-update emission: the last value emitted per surviving
        // session is its final value.
        assert_eq!(latest, want, "latest emitted per session");
        let late = want_late.iter().filter(|l| **l).count();
        assert!(late >= 20, "the data has late records: {late}");
        assert!(merges >= 20, "the data merges sessions: {merges}");
        assert!(want.len() >= 100, "many sessions: {}", want.len());
    }

    impl SessionStore<'_, String, u64> {
        fn sessions_of_all(&self, keys: &[&str]) -> Vec<((String, Window), u64)> {
            keys.iter()
                .flat_map(|k| {
                    let k = k.to_string();
                    self.sessions(&k)
                        .expect("read")
                        .into_iter()
                        .map(move |(w, v)| ((k.clone(), w), v))
                })
                .collect()
        }
    }

    #[test]
    fn sessions_match_an_independent_computation() {
        run(Windows::session(Duration::from_secs(5)).grace(Duration::from_secs(3)));
    }

    #[test]
    fn sessions_without_grace_match_an_independent_computation() {
        run(Windows::session(Duration::from_secs(2)).emit(Emit::OnClose));
    }

    #[test]
    fn advancing_closes_an_idle_keys_session_and_a_late_record_changes_nothing() {
        let mut ctx = context(Windows::session(Duration::from_secs(10)));
        let mut store = ctx.session_store::<String, u64>("w").expect("store");
        let k = "k".to_string();
        store.update(&k, 1_000, |_| 1, |a, b| a + b).expect("update");
        assert!(store.advance_to(10_999).expect("advance").is_empty());
        let closed = store.advance_to(11_000).expect("advance");
        assert_eq!(
            closed,
            vec![(
                Window {
                    start: 1_000,
                    end: 1_001
                },
                k.clone(),
                1
            )]
        );
        let update = store.update(&k, 1_000, |_| 1, |a, b| a + b).expect("update");
        assert!(update.late && update.updated.is_empty());
        assert!(store.sessions(&k).expect("read").is_empty());
    }
}
