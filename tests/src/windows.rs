//! An independent computation of windowed results, from the definitions of
//! the window kinds: no store, no index, no incremental state but plain
//! lists, so that a windowed product's outputs can be judged against it.
//!
//! Events are `(key, event time, value)` in the order one task processes
//! them; a window's result is the sum of the values counted in it.

use std::collections::BTreeMap;

use meshkit::state::{Window, WindowKind, Windows};

/// One event: key, event time (ms), value.
pub type Event = (String, i64, u64);

/// What a task should publish: the final sum per `(key, window)`, and
/// whether each event was late (counted nowhere).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    /// Final sum per key and window, for every window that holds an event.
    pub finals: BTreeMap<(String, Window), u64>,
    /// By event, in order: late?
    pub late: Vec<bool>,
    /// Session windows: how many times an event merged two or more sessions.
    pub merges: usize,
}

/// The results of `events`, processed in order by one task, under `windows`.
pub fn expected(windows: Windows, events: &[Event]) -> Expected {
    match windows.kind {
        WindowKind::Session => sessions(windows, events),
        WindowKind::Sliding => sliding(windows, events),
        _ => time_windows(windows, events),
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).expect("a window fits in i64 ms")
}

/// Stream time after each event: the largest event time so far.
fn stream_times(events: &[Event]) -> Vec<i64> {
    let mut now = i64::MIN;
    events
        .iter()
        .map(|(_, t, _)| {
            now = now.max(*t);
            now
        })
        .collect()
}

/// Tumbling and hopping windows: every window of the grid that holds the
/// event and is still open (end + grace after stream time) counts it.
fn time_windows(windows: Windows, events: &[Event]) -> Expected {
    let (size, advance, grace) = (ms(windows.size), ms(windows.advance), ms(windows.grace));
    let mut out = Expected::default();
    for ((key, t, v), now) in events.iter().zip(stream_times(events)) {
        let mut counted = false;
        // Every grid start in (t - size, t].
        let mut start = t.div_euclid(advance) * advance;
        while start > t - size {
            let w = Window {
                start,
                end: start + size,
            };
            if w.end + grace > now {
                *out.finals.entry((key.clone(), w)).or_insert(0) += v;
                counted = true;
            }
            start -= advance;
        }
        out.late.push(!counted);
    }
    out
}

/// Session windows, simulated with a list of open sessions per key: an event
/// joins every session within the gap of it (merging them); a session whose
/// last event plus gap plus grace stream time reached is closed and final;
/// an event whose (merged) session would be closed is late.
fn sessions(windows: Windows, events: &[Event]) -> Expected {
    let (gap, grace) = (ms(windows.size), ms(windows.grace));
    let mut open: BTreeMap<String, Vec<(i64, i64, u64)>> = BTreeMap::new();
    let mut out = Expected::default();
    let mut finish = |key: &str, (first, last, sum): (i64, i64, u64)| {
        let w = Window {
            start: first,
            end: last + 1,
        };
        out.finals.insert((key.to_string(), w), sum);
    };
    let mut late = Vec::new();
    let mut merges = 0;
    for ((key, t, v), now) in events.iter().zip(stream_times(events)) {
        let list = open.entry(key.clone()).or_default();
        let (near, far): (Vec<(i64, i64, u64)>, Vec<_>) = std::mem::take(list)
            .into_iter()
            .partition(|(first, last, _)| *last >= t - gap && *first <= t + gap);
        let first = near.iter().map(|s| s.0).fold(*t, i64::min);
        let last = near.iter().map(|s| s.1).fold(*t, i64::max);
        let is_late = last + gap + grace <= now;
        late.push(is_late);
        if is_late {
            // Nothing changes.
            *list = near.into_iter().chain(far).collect();
        } else {
            merges += usize::from(near.len() > 1);
            let sum = near.iter().map(|s| s.2).sum::<u64>() + v;
            *list = far;
            list.push((first, last, sum));
        }
        for (k, list) in &mut open {
            let (closed, still): (Vec<(i64, i64, u64)>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|(_, last, _)| last + gap + grace <= now);
            for session in closed {
                finish(k, session);
            }
            *list = still;
        }
    }
    for (k, list) in open {
        for session in list {
            finish(&k, session);
        }
    }
    out.late = late;
    out.merges = merges;
    out
}

/// Sliding windows, from their definition: for each counted event at `t`,
/// the window ending at it (`t - size + 1 ..= t`), which exists if it was
/// open when the event came, and the one starting after it
/// (`t + 1 ..= t + size`), which exists if it holds an event; a window's
/// sum counts the events in it that came while it was open. An event is
/// late when even the last window that could hold it (ending at
/// `t + size`) is closed.
fn sliding(windows: Windows, events: &[Event]) -> Expected {
    let (size, grace) = (ms(windows.size), ms(windows.grace));
    let open_at = |w: &Window, now: i64| w.end + grace > now;
    let mut counted: Vec<(&String, i64, u64, i64)> = Vec::new();
    let mut out = Expected::default();
    for ((key, t, v), now) in events.iter().zip(stream_times(events)) {
        let is_late = t + size + grace <= now;
        out.late.push(is_late);
        if !is_late {
            counted.push((key, *t, *v, now));
        }
    }
    for (key, t, _, now) in &counted {
        let left = Window {
            start: t - size + 1,
            end: t + 1,
        };
        let right = Window {
            start: t + 1,
            end: t + 1 + size,
        };
        for (w, is_left) in [(left, true), (right, false)] {
            let members: Vec<u64> = (counted.iter())
                .filter(|(k, x, _, came)| k == key && w.start <= *x && *x < w.end && open_at(&w, *came))
                .map(|(_, _, v, _)| *v)
                .collect();
            let exists = if is_left { open_at(&w, *now) } else { true };
            if exists && !members.is_empty() {
                out.finals.insert(((*key).clone(), w), members.iter().sum());
            }
        }
    }
    out
}

/// Out-of-order events for `keys` keys: event times advance by `step` ms
/// on average, each up to `jitter` ms behind, every `late_every`-th event
/// `far` ms behind; values distinct enough that sums tell events apart.
pub fn events(
    seed: u64,
    n: usize,
    keys: &[String],
    step: i64,
    jitter: i64,
    late_every: usize,
    far: i64,
) -> Vec<Event> {
    let mut x = seed;
    let mut next = move |m: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % m.max(1)
    };
    let mut time = 0i64;
    (0..n)
        .map(|i| {
            // Mostly steady, now and then a pause of a few steps.
            time += if next(15) == 0 { step * 6 } else { step };
            let key = keys[next(keys.len() as u64) as usize].clone();
            let at = if late_every > 0 && i % late_every == late_every - 1 {
                time - far
            } else {
                time - next(jitter as u64) as i64
            };
            (key, at, 1 + next(1_000))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sessions_merge_and_close_by_definition() {
        let w = Windows::session(Duration::from_millis(10)).grace(Duration::from_millis(20));
        let k = || "k".to_string();
        let events = vec![
            (k(), 0, 1),
            (k(), 18, 2),
            (k(), 9, 4),
            (k(), 100, 8),
            (k(), 30, 16),
        ];
        let out = expected(w, &events);
        // 0 and 18 are more than the gap apart until 9 bridges them; 100
        // closes that session (18 + 10 + 20 <= 100), and 30's own session
        // would be closed already (30 + 30 <= 100): late.
        assert_eq!(out.late, vec![false, false, false, false, true]);
        assert_eq!(out.merges, 1);
        let finals: Vec<(i64, i64, u64)> = out
            .finals
            .iter()
            .map(|((_, w), s)| (w.start, w.end, *s))
            .collect();
        assert_eq!(finals, vec![(0, 19, 7), (100, 101, 8)]);
    }

    #[test]
    fn sliding_windows_are_the_distinct_sets() {
        let w = Windows::sliding(Duration::from_millis(10));
        let k = || "k".to_string();
        let out = expected(w, &[(k(), 8, 1), (k(), 12, 2)]);
        let finals: Vec<(i64, i64, u64)> = out
            .finals
            .iter()
            .map(|((_, w), s)| (w.start, w.end, *s))
            .collect();
        // Ending at 8: {8}; ending at 12: {8, 12}; after 8: {12}; after 12: none.
        assert_eq!(finals, vec![(-1, 9, 1), (3, 13, 3), (9, 19, 2)]);
    }

    #[test]
    fn time_windows_drop_what_is_past_grace() {
        let w = Windows::tumbling(Duration::from_millis(10)).grace(Duration::from_millis(2));
        let k = || "k".to_string();
        let out = expected(
            w,
            &[(k(), 5, 1), (k(), 11, 2), (k(), 9, 4), (k(), 13, 8), (k(), 9, 16)],
        );
        assert_eq!(out.late, vec![false, false, false, false, true]);
        let finals: Vec<u64> = out.finals.values().copied().collect();
        assert_eq!(finals, vec![5, 10]);
    }
}
