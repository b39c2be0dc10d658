//! Window specifications on event time: how a windowed store groups records
//! (tumbling, hopping, sliding or session windows, with a grace period for
//! late records) and when its results are published. Plain data, declared in a product's descriptor;
//! the stores that keep windows are in the `state` layer.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// When a windowed store's results are meant to be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Emit {
    /// Every update of a window.
    EveryUpdate,
    /// Once per window, its final value, when the window closes (its end plus
    /// the grace period has passed in stream time).
    OnClose,
}

/// The shape of a store's windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WindowKind {
    /// Fixed windows of `size` starting every `advance`: tumbling when the
    /// two are equal, hopping (overlapping) when `advance` is shorter.
    /// Kept in a [`WindowStore`](crate::state::WindowStore).
    #[default]
    Time,
    /// A window of `size` for every distinct set of records that close in
    /// event time: one ending at each record (the `size` of event time up to
    /// and including it) and one starting just after each record (holding
    /// what follows it), as Kafka Streams' sliding windows. Kept in a
    /// [`SlidingStore`](crate::state::SlidingStore).
    Sliding,
    /// Sessions of activity per key: records less than `size` (the
    /// inactivity gap) apart in event time fall in one session, and a record
    /// that bridges two sessions merges them. Kept in a
    /// [`SessionStore`](crate::state::SessionStore).
    Session,
}

impl WindowKind {
    /// Its name in messages and in the DSL's `kind = ...`.
    pub fn name(self) -> &'static str {
        match self {
            WindowKind::Time => "time",
            WindowKind::Sliding => "sliding",
            WindowKind::Session => "session",
        }
    }
}

/// How records are grouped in event time: the kind of window, its size (for
/// sessions, the inactivity gap), how far consecutive time windows start
/// apart, and how long a window accepts late records after its end.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use meshkit::state::{Emit, Windows};
///
/// let minute = Windows::tumbling(Duration::from_secs(60)).grace(Duration::from_secs(10));
/// let w = minute.windows_for(125_000);
/// assert_eq!((w[0].start, w[0].end), (120_000, 180_000));
///
/// let hopping = Windows::hopping(Duration::from_secs(60), Duration::from_secs(20)).emit(Emit::OnClose);
/// assert_eq!(hopping.windows_for(125_000).len(), 3);
///
/// let sessions = Windows::session(Duration::from_secs(1_800));
/// assert_eq!(sessions.size, Duration::from_secs(1_800)); // the inactivity gap
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    /// The kind of windows.
    #[serde(default)]
    pub kind: WindowKind,
    /// Window length; for session windows, the inactivity gap: how far
    /// apart in event time two records of a key may be and still share a
    /// session.
    pub size: Duration,
    /// Distance between window starts (= `size` for tumbling windows; unused
    /// by sliding and session windows, where it equals `size`).
    pub advance: Duration,
    /// How long after its end a window still accepts records.
    pub grace: Duration,
    /// When results are published.
    pub emit: Emit,
    /// How long after it closes a time window's final value stays readable
    /// ([`WindowStore::get`](crate::state::WindowStore::get),
    /// [`fetch`](crate::state::WindowStore::fetch)); zero (the default):
    /// removed as it closes. Tumbling and hopping windows only.
    #[serde(default)]
    pub retention: Duration,
}

impl Windows {
    /// Back-to-back windows of `size`.
    pub fn tumbling(size: Duration) -> Self {
        Self::hopping(size, size)
    }

    /// Windows of `size` starting every `advance` (overlapping when
    /// `advance < size`).
    pub fn hopping(size: Duration, advance: Duration) -> Self {
        Self {
            kind: WindowKind::Time,
            size,
            advance,
            grace: Duration::ZERO,
            emit: Emit::EveryUpdate,
            retention: Duration::ZERO,
        }
    }

    /// Sliding windows of `size`: see [`WindowKind::Sliding`].
    pub fn sliding(size: Duration) -> Self {
        Self {
            kind: WindowKind::Sliding,
            ..Self::tumbling(size)
        }
    }

    /// Session windows that end after `gap` of inactivity: see
    /// [`WindowKind::Session`]. A session closes when stream time passes
    /// its last record's time plus the gap plus the grace period.
    pub fn session(gap: Duration) -> Self {
        Self {
            kind: WindowKind::Session,
            ..Self::tumbling(gap)
        }
    }

    /// Accept records up to `grace` after a window's end (default none).
    #[must_use]
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Keeps each closed window's final value readable for `retention`
    /// after it closes (tumbling and hopping windows).
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// When results are published (default every update).
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.emit = emit;
        self
    }

    pub(crate) fn ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }

    /// Checks the sizes: both positive, and the advance no longer than the size.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.size.is_zero() || self.advance.is_zero() {
            return Err("a window's size (a session's gap) and advance must be positive");
        }
        if self.kind != WindowKind::Time && self.advance != self.size {
            return Err("sliding and session windows have no advance of their own (it equals the size)");
        }
        if self.kind != WindowKind::Time && !self.retention.is_zero() {
            return Err("only tumbling and hopping windows keep closed windows for a retention");
        }
        if self.advance > self.size {
            return Err("a window's advance must not exceed its size (records would fall between windows)");
        }
        Ok(())
    }

    /// The time windows that contain event time `timestamp` (milliseconds),
    /// oldest first; none for sliding and session windows, which the
    /// records themselves define.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        if self.kind != WindowKind::Time {
            return Vec::new();
        }
        let (size, advance) = (Self::ms(self.size).max(1), Self::ms(self.advance).max(1));
        let last_start = timestamp.div_euclid(advance) * advance;
        let mut windows = Vec::new();
        let mut start = last_start;
        while start > timestamp - size {
            windows.push(Window {
                start,
                end: start + size,
            });
            start -= advance;
        }
        windows.reverse();
        windows
    }

    /// Whether `window` is closed at `stream_time`: its end plus grace passed.
    pub fn is_closed(&self, window: Window, stream_time: i64) -> bool {
        window.end + Self::ms(self.grace) <= stream_time
    }
}

/// One window: event times from `start` (inclusive) to `end` (exclusive), in
/// milliseconds since the Unix epoch. A session's window runs from its first
/// record's time to just after its last one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "avro", derive(apache_avro::AvroSchema))]
#[cfg_attr(feature = "avro", avro(namespace = "meshkit"))]
pub struct Window {
    /// First millisecond in the window.
    pub start: i64,
    /// First millisecond after it.
    pub end: i64,
}
